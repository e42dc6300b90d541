import ArgumentParser
import Foundation
import SpeechT5

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure load time, per-stage timings, real-time factor and memory on a fixed amount of work; prints JSON.")

    @Option(help: "Model directory.")
    var model: String

    @Option(help: "Vocoder directory.")
    var vocoder: String

    @Option(help: "Input tokens (EOS included).")
    var tokens: Int = 101

    @Option(help: "Mel frames to generate (a multiple of the reduction factor).")
    var frames: Int = 404

    @Option(help: "Repetitions; medians are reported.")
    var repeats: Int = 3

    @Option(help: "Rows decoded together.")
    var batch: Int = 1

    @Option(help: "Threads for the kernels (default: all cores).")
    var threads: Int?

    @Option(help: "Weight precision: fp32 (exact), bf16 or int8 (int8 decoder weights and vocoder residual blocks, the rest bf16).")
    var precision: Precision = .fp32

    func run() throws {
        let threadCount = Threading.configure(threads: threads)
        let report = try Benchmark.run(modelDirectory: model, vocoderDirectory: vocoder, tokens: tokens, frames: frames,
                                       repeats: repeats, batch: batch, threads: threadCount,
                                       precision: precision)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        print(String(decoding: try encoder.encode(report), as: UTF8.self))
    }
}

extension Precision: ExpressibleByArgument {}
