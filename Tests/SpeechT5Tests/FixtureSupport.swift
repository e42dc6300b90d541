import Foundation
import XCTest
@testable import SpeechT5

/// Locates the committed reference fixtures (written by `scripts/make_fixtures.sh` from transformers).
enum Fixtures {
    static var root: URL {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
    }

    static func path(_ relative: String) -> String {
        root.appendingPathComponent(relative).path
    }

    /// Names of the model fixtures (directories under `models/`).
    static var modelNames: [String] {
        let directory = root.appendingPathComponent("models")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted()
    }

    /// One end-to-end reference case (`models/<name>/cases.json`).
    struct Case: Decodable {
        let name: String
        let text: String
        let input_ids: [Int]
        let seed: UInt64
        let dropout: Double
        let threshold: Float
        let minlenratio: Double
        let maxlenratio: Double
        let steps: Int
        let frames: Int
        let samples: Int
        let stopped_by: String
    }

    static func cases(model: String) throws -> [Case] {
        let data = try Data(contentsOf: root.appendingPathComponent("models/\(model)/cases.json"))
        return try JSONDecoder().decode([Case].self, from: data)
    }

    /// The reference tensors of one case.
    static func reference(model: String, case name: String) throws -> SafeTensorsFile {
        try SafeTensorsFile(path: path("models/\(model)/\(name).safetensors"))
    }
}

/// Pearson correlation of two equally long vectors (in Double).
func pearson(_ a: [Float], _ b: [Float]) -> Double {
    precondition(a.count == b.count && !a.isEmpty)
    let n = Double(a.count)
    let meanA = a.reduce(0.0) { $0 + Double($1) } / n
    let meanB = b.reduce(0.0) { $0 + Double($1) } / n
    var covariance = 0.0, varianceA = 0.0, varianceB = 0.0
    for i in a.indices {
        let x = Double(a[i]) - meanA, y = Double(b[i]) - meanB
        covariance += x * y; varianceA += x * x; varianceB += y * y
    }
    return covariance / (varianceA * varianceB).squareRoot()
}

func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
    zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

func maxMagnitude(_ a: [Float]) -> Float { a.reduce(0) { max($0, abs($1)) } }

/// Asserts component-level fp32 parity: same length, Pearson ≥ 0.99999 and max |Δ| ≤ 1e-4 · max |reference|.
func assertComponentParity(_ actual: [Float], _ expected: [Float], _ what: String,
                           pearsonAtLeast: Double = 0.99999, relativeTolerance: Float = 1e-4,
                           file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.count, expected.count, "\(what): length", file: file, line: line)
    guard actual.count == expected.count, !actual.isEmpty else { return }
    let r = pearson(actual, expected)
    let difference = maxAbsDifference(actual, expected)
    let bound = relativeTolerance * maxMagnitude(expected)
    XCTAssertGreaterThanOrEqual(r, pearsonAtLeast, "\(what): Pearson \(r)", file: file, line: line)
    XCTAssertLessThanOrEqual(difference, bound, "\(what): max |Δ| \(difference) > \(bound)", file: file, line: line)
}
