import ArgumentParser
import Foundation
import SpeechT5

/// `speecht5 convert DIR`: PyTorch checkpoint → model.safetensors.
struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a PyTorch checkpoint (pytorch_model.bin) to model.safetensors.",
        discussion: """
            Reads DIR/pytorch_model.bin (or DIR/pytorch_model.bin.index.json and its shards, or a .bin file \
            given directly) without executing any of its pickle, and writes model.safetensors beside it. \
            Every tensor keeps its name and dtype (float64 is narrowed to float32); weight-norm pairs \
            (weight_g/weight_v, parametrizations.weight.original0/1) are folded into plain weights, so the \
            result loads like a transformers re-save. The file is written to a temporary name and renamed \
            into place.
            """)

    @Argument(help: "Model directory with pytorch_model.bin (or its sharded index), or a torch checkpoint file.")
    var directory: String

    @Option(name: [.short, .customLong("output")], help: "Output file (default: model.safetensors beside the input).")
    var output: String?

    @Flag(help: "Replace the output file if it exists.")
    var force = false

    func run() throws {
        let summary = try CheckpointConverter.convertTorchCheckpoint(at: directory, output: output, overwrite: force)
        var line = "wrote \(summary.output): \(summary.tensorCount) tensors, \(summary.bytesWritten) bytes"
        if !summary.foldedWeights.isEmpty {
            line += " (\(summary.foldedWeights.count) weight-norm pairs folded)"
        }
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
