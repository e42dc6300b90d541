import ArgumentParser
import Foundation
import SpeechT5

/// `speecht5 say "Hello there."`: the one command a new user needs.
struct Say: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Speak a text into speech.wav, fetching the model, vocoder and voice on first use.",
        discussion: """
            With no options this uses microsoft/speecht5_tts, microsoft/speecht5_hifigan and the slt voice. \
            Missing files are downloaded from the Hugging Face hub (HF_ENDPOINT, HF_TOKEN) into the cache that \
            Python's huggingface_hub uses (HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub); \
            later runs need no network, and HF_HUB_OFFLINE=1 forbids it. --model and --vocoder also take \
            local directories. 'speecht5 voices' lists the voices.
            """)

    @Argument(help: "The text to speak. Read from standard input when absent.")
    var text: String?

    @OptionGroup var source: ModelArguments
    @OptionGroup var generation: GenerationArguments
    @OptionGroup var out: OutputArguments

    func run() throws {
        // Read the text first: a bad input fails before anything is downloaded.
        let input = try text ?? readStandardInput()
        if input.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            throw SpeechT5Error.invalidText(reason: input.isEmpty ? "the text is empty" : "the text contains only whitespace")
        }
        let (synthesizer, speaker) = try source.load()
        try SpeechRun(generation: generation, out: out).speak(input, synthesizer: synthesizer, speaker: speaker)
    }
}
