import Foundation

/// A Unicode-scalar string, compared scalar by scalar like a Python `str`.
///
/// Swift `String` equality uses canonical equivalence ("é" == "e\u{301}"), which would make added-token
/// matching and vocabulary lookup disagree with transformers; everything here compares scalars or bytes.
typealias Scalars = [Unicode.Scalar]

extension Array where Element == Unicode.Scalar {
    var utf8Bytes: [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count)
        for scalar in self { UTF8.encode(scalar) { bytes.append($0) } }
        return bytes
    }

    var string: String {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: self)
        return String(view)
    }

    /// Python's `str.isspace()` set (Unicode White_Space minus U+180E, i.e. category Zs or bidi class
    /// WS/B/S), which `str.strip` uses.
    static func isPythonWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
            return true
        default:
            return false
        }
    }

    /// Python `str.lstrip()`.
    func pythonLstrip() -> Scalars {
        guard let first = firstIndex(where: { !Self.isPythonWhitespace($0) }) else { return [] }
        return Array(self[first...])
    }

    /// Python `str.rstrip()`.
    func pythonRstrip() -> Scalars {
        guard let last = lastIndex(where: { !Self.isPythonWhitespace($0) }) else { return [] }
        return Array(self[...last])
    }
}

/// transformers' `tokenization_python.Trie`, ported statement by statement, including its quirks: it
/// finds added tokens left to right, prefers the longest token among overlapping candidates through a
/// look-ahead, and cuts the text around them.
struct AddedTokenSplitter: Sendable {
    /// Children per node, keyed by scalar value. Node 0 is the root.
    private var children: [[UInt32: Int]] = [[:]]
    /// Whether a token ends at the node (the Python trie's `""` key).
    private var terminal: [Bool] = [false]

    init(tokens: [Scalars]) {
        for token in tokens { add(token) }
    }

    private mutating func add(_ token: Scalars) {
        guard !token.isEmpty else { return }
        var node = 0
        for scalar in token {
            if let next = children[node][scalar.value] {
                node = next
            } else {
                children.append([:])
                terminal.append(false)
                children[node][scalar.value] = children.count - 1
                node = children.count - 1
            }
        }
        terminal[node] = true
    }

    private func child(_ node: Int, _ scalar: Unicode.Scalar?) -> Int? {
        guard let scalar else { return nil }
        return children[node][scalar.value]
    }

    /// `Trie.split`: the text cut along the added tokens found in it (tokens are their own pieces).
    func split(_ text: Scalars) -> [Scalars] {
        if text.isEmpty { return [] }
        if !text.contains(where: { children[0][$0.value] != nil }) { return [text] }

        // (start, node) in insertion order, as the Python OrderedDict.
        var states: [(start: Int, node: Int)] = []
        var offsets = [0]
        var skip = 0
        for current in text.indices {
            let currentChar = text[current]
            if skip != 0, current < skip { continue }
            var toRemove = Set<Int>()
            var reset = false
            var s = 0
            while s < states.count {
                var start = states[s].start
                let pointer = states[s].node
                if terminal[pointer] {
                    // A token ends here; look ahead for a longer one starting at the same or an earlier place.
                    var end = 0
                    for (lookstart, lookPointerInitial) in states {
                        var lookPointer = lookPointerInitial
                        var lookaheadIndex: Int
                        if lookstart > start {
                            break
                        } else if lookstart < start {
                            lookaheadIndex = current + 1
                            end = current + 1
                        } else {
                            lookaheadIndex = current
                            end = current
                        }
                        var nextChar: Unicode.Scalar? = lookaheadIndex < text.count ? text[lookaheadIndex] : nil
                        if terminal[lookPointer] {
                            start = lookstart
                            end = lookaheadIndex
                            skip = lookaheadIndex
                        }
                        while let next = child(lookPointer, nextChar) {
                            lookPointer = next
                            lookaheadIndex += 1
                            if terminal[lookPointer] {
                                start = lookstart
                                end = lookaheadIndex
                                skip = lookaheadIndex
                            }
                            if lookaheadIndex == text.count { break }
                            nextChar = text[lookaheadIndex]
                        }
                    }
                    offsets.append(start)
                    offsets.append(end)
                    reset = true
                    break
                } else if let next = child(pointer, currentChar) {
                    states[s].node = next
                } else {
                    toRemove.insert(start)
                }
                s += 1
            }
            if reset {
                states.removeAll()
            } else if !toRemove.isEmpty {
                states.removeAll { toRemove.contains($0.start) }
            }
            if current >= skip, let first = children[0][currentChar.value] {
                if let existing = states.firstIndex(where: { $0.start == current }) {
                    states[existing].node = first
                } else {
                    states.append((current, first))
                }
            }
        }
        for (start, pointer) in states where terminal[pointer] {
            offsets.append(start)
            offsets.append(text.count)
            break
        }

        // cut_text
        offsets.append(text.count)
        var pieces: [Scalars] = []
        var start = 0
        for end in offsets {
            if start > end { continue }  // transformers logs "bug in Trie algorithm" and skips
            if start == end { continue }
            pieces.append(Array(text[start..<end]))
            start = end
        }
        return pieces
    }
}
