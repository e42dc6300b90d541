import Foundation
import XCTest

@testable import SpeechT5

final class VoiceConfigurationTests: XCTestCase {
    /// speechbrain/spkrec-xvect-voxceleb's hyperparams.yaml (as published; the fixture shrinks the sizes).
    static let published = """
        # ############################################################################
        # Model: xvector for Speaker verification
        # ############################################################################

        # Feature parameters
        n_mels: 24

        # Pretrain folder (HuggingFace)
        pretrained_path: speechbrain/spkrec-xvect-voxceleb

        # Output parameters
        out_n_neurons: 7205

        # Model params
        compute_features: !new:speechbrain.lobes.features.Fbank
            n_mels: !ref <n_mels>

        mean_var_norm: !new:speechbrain.processing.features.InputNormalization
            norm_type: sentence
            std_norm: False

        embedding_model: !new:speechbrain.lobes.models.Xvector.Xvector
            in_channels: !ref <n_mels>
            activation: !name:torch.nn.LeakyReLU
            tdnn_blocks: 5
            tdnn_channels: [512, 512, 512, 512, 1500]
            tdnn_kernel_sizes: [5, 3, 3, 1, 1]
            tdnn_dilations: [1, 2, 3, 1, 1]
            lin_neurons: 512

        classifier: !new:speechbrain.lobes.models.Xvector.Classifier
            input_shape: [null, null, 512]
            activation: !name:torch.nn.LeakyReLU
            lin_blocks: 1
            lin_neurons: 512
            out_neurons: !ref <out_n_neurons>

        mean_var_norm_emb: !new:speechbrain.processing.features.InputNormalization
            norm_type: global
            std_norm: False

        modules:
            compute_features: !ref <compute_features>
            mean_var_norm: !ref <mean_var_norm>
            embedding_model: !ref <embedding_model>
            mean_var_norm_emb: !ref <mean_var_norm_emb>
            classifier: !ref <classifier>

        label_encoder: !new:speechbrain.dataio.encoder.CategoricalEncoder


        pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer
            loadables:
                embedding_model: !ref <embedding_model>
                mean_var_norm_emb: !ref <mean_var_norm_emb>
                classifier: !ref <classifier>
                label_encoder: !ref <label_encoder>
            paths:
                embedding_model: !ref <pretrained_path>/embedding_model.ckpt
                mean_var_norm_emb: !ref <pretrained_path>/mean_var_norm_emb.ckpt
                classifier: !ref <pretrained_path>/classifier.ckpt
                label_encoder: !ref <pretrained_path>/label_encoder.txt

        """

    private func parse(_ text: String) throws -> SpeakerEncoderConfiguration {
        try SpeakerEncoderConfiguration.parse(text, path: "hyperparams.yaml")
    }

    func testPublishedHyperparameters() throws {
        let config = try parse(Self.published)
        XCTAssertEqual(config.sampleRate, 16_000)
        XCTAssertEqual(config.fftSize, 400)
        XCTAssertEqual(config.windowSamples, 400)
        XCTAssertEqual(config.hopSamples, 160)
        XCTAssertEqual(config.melCount, 24)
        XCTAssertEqual(config.fMin, 0)
        XCTAssertNil(config.fMax)
        XCTAssertFalse(config.stdNorm)
        XCTAssertEqual(config.inChannels, 24)
        XCTAssertEqual(config.activation, .leakyReLU)
        XCTAssertEqual(config.channels, [512, 512, 512, 512, 1500])
        XCTAssertEqual(config.kernelSizes, [5, 3, 3, 1, 1])
        XCTAssertEqual(config.dilations, [1, 2, 3, 1, 1])
        XCTAssertEqual(config.embeddingDimension, 512)
    }

    func testSpeechbrainDefaultsApplyToAbsentKeys() throws {
        let config = try parse("""
            compute_features: !new:speechbrain.lobes.features.Fbank
            mean_var_norm: !new:speechbrain.processing.features.InputNormalization
              norm_type: sentence
            embedding_model: !new:speechbrain.lobes.models.Xvector.Xvector
            """)
        XCTAssertEqual(config.melCount, 40)
        XCTAssertEqual(config.inChannels, 40)
        XCTAssertTrue(config.stdNorm)
        XCTAssertEqual(config.channels, [512, 512, 512, 512, 1500])
        XCTAssertEqual(config.embeddingDimension, 512)
    }

    func testYAMLForms() throws {
        // Block lists, a multi-line flow list, quoted scalars, comments, reference chains, fewer blocks than
        // list entries, f_max, and odd sections that must not get in the way.
        let config = try parse("""
            %YAML 1.2
            ---
            n_mels: 30   # comment
            unreadable: |
              a literal block
                that this reader does not understand: at all
            another: [unterminated
            mels: !ref <n_mels>
            sr: 8000
            weird: {a: 1, b: [2, 3]}
            text: "a # not a comment"
            compute_features: !new:speechbrain.lobes.features.Fbank
                n_mels: !ref <mels>
                sample_rate: !ref <sr>
                f_max: 3800.0
                n_fft: 256
                win_length: 32
                hop_length: 16
            mean_var_norm: !new:speechbrain.processing.features.InputNormalization
                norm_type: 'sentence'
                std_norm: true
                epsilon: 1.0e-8
            embedding_model: !new:speechbrain.lobes.models.Xvector.Xvector
                in_channels: !ref <n_mels>
                activation: !name:torch.nn.ReLU
                tdnn_blocks: 2
                tdnn_channels:
                    - 64
                    - 128
                    - 999
                tdnn_kernel_sizes: [5,
                    3]
                tdnn_dilations:
                - 1
                - 2
                lin_neurons: 100
            tricky: !apply:torch.manual_seed [1234]
            pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer
                paths:
                    embedding_model: !ref <pretrained_path>/embedding_model.ckpt
            """)
        XCTAssertEqual(config.melCount, 30)
        XCTAssertEqual(config.sampleRate, 8000)
        XCTAssertEqual(config.fMax, 3800)
        XCTAssertEqual(config.fftSize, 256)
        XCTAssertEqual(config.windowSamples, 256)
        XCTAssertEqual(config.hopSamples, 128)
        XCTAssertTrue(config.stdNorm)
        XCTAssertEqual(config.normEpsilon, 1e-8)
        XCTAssertEqual(config.activation, .relu)
        XCTAssertEqual(config.channels, [64, 128])
        XCTAssertEqual(config.kernelSizes, [5, 3])
        XCTAssertEqual(config.dilations, [1, 2])
        XCTAssertEqual(config.embeddingDimension, 100)
    }

    private func assertRejected(_ text: String, field: String, containing detail: String = "",
                                file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try parse(text), file: file, line: line) { error in
            guard case SpeechT5Error.invalidConfig(let path, let errorField, let reason) = error else {
                return XCTFail("unexpected error \(error)", file: file, line: line)
            }
            XCTAssertEqual(path, "hyperparams.yaml", file: file, line: line)
            XCTAssertEqual(errorField, field, reason, file: file, line: line)
            if !detail.isEmpty {
                XCTAssertTrue(reason.contains(detail), "'\(reason)' should mention '\(detail)'", file: file, line: line)
            }
        }
    }

    private func replacing(_ old: String, _ new: String) -> String {
        precondition(Self.published.contains(old))
        return Self.published.replacingOccurrences(of: old, with: new)
    }

    func testUnsupportedSettingsAreRefused() {
        assertRejected(replacing("    n_mels: !ref <n_mels>\n\nmean", "    n_mels: !ref <n_mels>\n    deltas: True\n\nmean"),
                       field: "compute_features.deltas")
        assertRejected(replacing("    n_mels: !ref <n_mels>\n\nmean", "    n_mels: !ref <n_mels>\n    context: True\n\nmean"),
                       field: "compute_features.context")
        assertRejected(replacing("    n_mels: !ref <n_mels>\n\nmean", "    n_mels: !ref <n_mels>\n    filter_shape: gaussian\n\nmean"),
                       field: "compute_features.filter_shape", containing: "gaussian")
        assertRejected(replacing("    n_mels: !ref <n_mels>\n\nmean", "    n_mels: !ref <n_mels>\n    dither: 0.1\n\nmean"),
                       field: "compute_features.dither", containing: "unknown")
        assertRejected(replacing("norm_type: sentence", "norm_type: global"), field: "mean_var_norm.norm_type")
        assertRejected(replacing("activation: !name:torch.nn.LeakyReLU\n    tdnn_blocks", "activation: !name:torch.nn.PReLU\n    tdnn_blocks"),
                       field: "embedding_model.activation")
        assertRejected(replacing("tdnn_kernel_sizes: [5, 3, 3, 1, 1]", "tdnn_kernel_sizes: [4, 3, 3, 1, 1]"),
                       field: "embedding_model.tdnn_kernel_sizes", containing: "even")
        assertRejected(replacing("tdnn_dilations: [1, 2, 3, 1, 1]", "tdnn_dilations: [1, 2, 3]"),
                       field: "embedding_model.tdnn_dilations", containing: "tdnn_blocks")
        assertRejected(replacing("in_channels: !ref <n_mels>", "in_channels: 40"),
                       field: "embedding_model.in_channels", containing: "24 mel")
        assertRejected(replacing("lin_neurons: 512\n\nclassifier", "lin_neurons: many\n\nclassifier"),
                       field: "embedding_model.lin_neurons", containing: "integer")
        assertRejected(replacing("lin_neurons: 512\n\nclassifier", "lin_neurons: 0\n\nclassifier"),
                       field: "embedding_model.lin_neurons", containing: "range")
        assertRejected(replacing("tdnn_channels: [512, 512, 512, 512, 1500]", "tdnn_channels: [512, 512, 512, 512, 100000000]"),
                       field: "embedding_model.tdnn_channels", containing: "range")
        assertRejected(replacing("in_channels: !ref <n_mels>", "in_channels: !ref <no_such_key>"),
                       field: "embedding_model.in_channels", containing: "no_such_key")
        assertRejected(replacing("in_channels: !ref <n_mels>", "in_channels: !ref <n_mels> * 2"),
                       field: "embedding_model.in_channels", containing: "expressions")
        assertRejected(replacing("embedding_model: !new:speechbrain.lobes.models.Xvector.Xvector",
                                 "embedding_model: !new:speechbrain.lobes.models.ECAPA_TDNN.ECAPA_TDNN"),
                       field: "embedding_model", containing: "ECAPA")
        assertRejected("compute_features: !new:speechbrain.lobes.features.Fbank\n", field: "mean_var_norm", containing: "missing")
    }

    func testUnreadableEntryIsReportedWhenNeeded() throws {
        let scratch = try VoiceScratch()
        let text = Self.published.replacingOccurrences(of: "    tdnn_blocks: 5\n", with: "    tdnn_blocks: 5\n  bad indentation: here\n")
        let badLine = text.components(separatedBy: "\n").firstIndex(of: "  bad indentation: here").map { $0 + 1 } ?? 0
        let path = try scratch.write("hyperparams.yaml", text: text)
        XCTAssertThrowsError(try SpeakerEncoderConfiguration.load(path: path)) { error in
            guard case SpeechT5Error.invalidFile(let errorPath, let reason) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(errorPath, path)
            XCTAssertTrue(reason.hasPrefix("line \(badLine):"), reason)
        }
        // The same mistake in a section the encoder does not read is harmless.
        let elsewhere = Self.published.replacingOccurrences(of: "    lin_blocks: 1\n", with: "    lin_blocks: 1\n  bad indentation: here\n")
        XCTAssertEqual(try parse(elsewhere), try parse(Self.published))
    }

    func testCircularReferenceIsRefused() {
        assertRejected(replacing("n_mels: 24\n", "n_mels: !ref <other>\nother: !ref <n_mels>\n"),
                       field: "compute_features.n_mels", containing: "circular")
    }

    func testMalformedYAMLIsAClearError() throws {
        let scratch = try VoiceScratch()
        let path = try scratch.write("hyperparams.yaml", text: "compute_features: !new:speechbrain.lobes.features.Fbank\n  n_mels 24\n")
        XCTAssertThrowsError(try SpeakerEncoderConfiguration.load(path: path)) { error in
            guard case SpeechT5Error.invalidFile(let errorPath, let reason) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(errorPath, path)
            XCTAssertTrue(reason.contains("line 2"), reason)
        }
        let binary = try scratch.write("binary.yaml", [0xFF, 0xFE, 0x00, 0x80])
        XCTAssertThrowsError(try SpeakerEncoderConfiguration.load(path: binary)) { error in
            guard case SpeechT5Error.invalidFile(_, let reason) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("UTF-8"), reason)
        }
    }

    func testDeepNestingIsRefused() {
        var text = "root:\n"
        for depth in 1...40 { text += String(repeating: " ", count: depth * 2) + "k\(depth):\n" }
        text += String(repeating: " ", count: 82) + "leaf: 1\n"
        XCTAssertThrowsError(try parse(text))
    }

    func testFilterbankMatrixShape() {
        // speechbrain's filters: triangles symmetric in Hz around each centre, with the left band width.
        let matrix = Fbank.melFilters(sampleRate: 16_000, fftSize: 400, melCount: 24, fMin: 0, fMax: 8000)
        XCTAssertEqual(matrix.count, 201 * 24)
        for m in 0..<24 {
            let column = (0..<201).map { matrix[$0 * 24 + m] }
            XCTAssertTrue(column.allSatisfy { $0 >= 0 && $0 <= 1 })
            XCTAssertGreaterThan(column.max() ?? 0, 0.5, "filter \(m) has a peak")
        }
        XCTAssertEqual(Fbank.linspace(0, 1, count: 5), [0, 0.25, 0.5, 0.75, 1])
        let window = Fbank.hammingWindow(400)
        XCTAssertEqual(window[0], 0.08, accuracy: 1e-7)
        XCTAssertEqual(window[200], 1, accuracy: 1e-7)
    }
}
