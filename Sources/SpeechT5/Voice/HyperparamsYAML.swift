import Foundation

/// A deliberately small reader for the subset of (Hyper)YAML that speechbrain's `hyperparams.yaml` files
/// use: indentation-nested mappings, block lists (`- item`), single- or multi-line flow lists (`[a, b]`),
/// plain/quoted scalars, comments, tags (`!new:module.Class`, `!name:…`, `!ref <key>`, `!apply:…`).
/// Anything else (anchors, flow mappings, multi-line strings) is kept as an opaque scalar or reported when
/// it is actually needed, so an unrelated section never stops the encoder from loading.
struct HyperparamsYAML {
    indirect enum Node: Equatable {
        case scalar(String, tag: String?)
        case list([Node], tag: String?)
        case map([(key: String, value: Node)], tag: String?)

        static func == (lhs: Node, rhs: Node) -> Bool {
            switch (lhs, rhs) {
            case let (.scalar(a, ta), .scalar(b, tb)): return a == b && ta == tb
            case let (.list(a, ta), .list(b, tb)): return a == b && ta == tb
            case let (.map(a, ta), .map(b, tb)):
                return ta == tb && a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
            default: return false
            }
        }

        var tag: String? {
            switch self {
            case .scalar(_, let tag), .list(_, let tag), .map(_, let tag): return tag
            }
        }

        func value(_ key: String) -> Node? {
            guard case .map(let entries, _) = self else { return nil }
            return entries.last(where: { $0.key == key })?.value
        }

        var keys: [String] {
            guard case .map(let entries, _) = self else { return [] }
            return entries.map(\.key)
        }
    }

    struct ParseError: Error {
        let line: Int
        let message: String
    }

    /// The top-level mapping.
    let root: Node
    /// Top-level entries that could not be parsed, with the reason; they only matter when used.
    let unparsable: [String: ParseError]

    static let maxBytes = 1 << 20
    static let maxDepth = 32

    /// Parses `text`. Each top-level entry is parsed on its own, so a construct this reader does not know in
    /// one entry (a multi-line string, an anchor) leaves the others usable; `resolve` and `entry` report it
    /// when such an entry is needed. Lines before any top-level key that cannot be read are an error.
    init(text: String) throws {
        let lines = Self.logicalLines(text)
        var entries: [(key: String, value: Node)] = []
        var unparsable: [String: ParseError] = [:]
        var start = 0
        while start < lines.count {
            var end = start + 1
            while end < lines.count,
                  lines[end].indent > 0 || lines[end].text == "-" || lines[end].text.hasPrefix("- ") { end += 1 }
            let group = Array(lines[start..<end])
            var index = 0
            do {
                if case .map(let parsed, _)? = try Self.parseBlock(group, &index, indent: 0, depth: 0) {
                    entries += parsed
                }
                if index < group.count {
                    throw ParseError(line: group[index].number, message: "unexpected '\(group[index].text)'")
                }
            } catch let error as ParseError {
                guard let (key, _) = Self.splitKey(group[0].text), group[0].indent == 0 else { throw error }
                unparsable[key] = error
                entries.removeAll { $0.key == key }
            }
            start = end
        }
        root = .map(entries, tag: nil)
        self.unparsable = unparsable
    }

    /// The top-level entry `key`, or nil when absent; an entry that could not be parsed throws its error.
    func entry(_ key: String) throws -> Node? {
        if let error = unparsable[key] { throw error }
        return root.value(key)
    }

    // MARK: - Lines

    private struct Line {
        let number: Int
        let indent: Int
        let text: String  // without indentation and comment, trimmed
    }

    /// Non-empty lines with comments removed; a flow list left open continues on the following lines.
    private static func logicalLines(_ text: String) -> [Line] {
        var result: [Line] = []
        var pending: (number: Int, indent: Int, text: String)?
        for (offset, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = String(raw)
            if line.hasSuffix("\r") { line.removeLast() }
            let trimmedLine = line.trimmingCharacters(in: .whitespaces)
            if pending == nil, trimmedLine == "---" || trimmedLine == "..." || line.hasPrefix("%") {
                continue  // document markers and directives (%YAML 1.2)
            }
            let stripped = stripComment(line)
            let indent = stripped.prefix(while: { $0 == " " }).count
            let content = stripped.trimmingCharacters(in: .whitespaces)
            if var open = pending {
                if content.isEmpty { continue }
                if indent > open.indent {
                    open.text += " " + content
                    pending = open
                    if bracketBalance(open.text) <= 0 {
                        result.append(Line(number: open.number, indent: open.indent, text: open.text))
                        pending = nil
                    }
                    continue
                }
                // A flow list must continue on deeper lines; emit it unterminated (an error if it is used).
                result.append(Line(number: open.number, indent: open.indent, text: open.text))
                pending = nil
            }
            guard !content.isEmpty else { continue }
            if bracketBalance(content) > 0 {
                pending = (offset + 1, indent, content)
            } else {
                result.append(Line(number: offset + 1, indent: indent, text: content))
            }
        }
        if let open = pending {
            result.append(Line(number: open.number, indent: open.indent, text: open.text))
        }
        return result
    }

    /// The line without a trailing `# comment` (a `#` at the start or after whitespace, outside quotes).
    private static func stripComment(_ line: String) -> String {
        var quote: Character?
        var previous: Character = " "
        var end = line.endIndex
        for i in line.indices {
            let c = line[i]
            if let q = quote {
                if c == q { quote = nil }
            } else if c == "\"" || c == "'" {
                quote = c
            } else if c == "#" && (previous == " " || previous == "\t") {
                end = i
                break
            }
            previous = c
        }
        return String(line[..<end])
    }

    private static func bracketBalance(_ text: String) -> Int {
        var depth = 0
        var quote: Character?
        for c in text {
            if let q = quote {
                if c == q { quote = nil }
                continue
            }
            switch c {
            case "\"", "'": quote = c
            case "[", "{": depth += 1
            case "]", "}": depth -= 1
            default: break
            }
        }
        return depth
    }

    // MARK: - Blocks

    /// Parses the mapping or list whose lines start at `index` with indentation `indent` (or deeper for the
    /// first line, which fixes it).
    private static func parseBlock(_ lines: [Line], _ index: inout Int, indent: Int, depth: Int) throws -> Node? {
        guard index < lines.count, lines[index].indent >= indent else { return nil }
        guard depth < maxDepth else {
            throw ParseError(line: lines[index].number, message: "nesting deeper than \(maxDepth) levels")
        }
        let blockIndent = lines[index].indent
        if lines[index].text == "-" || lines[index].text.hasPrefix("- ") {
            var items: [Node] = []
            while index < lines.count, lines[index].indent == blockIndent,
                  lines[index].text == "-" || lines[index].text.hasPrefix("- ") {
                let line = lines[index]
                let rest = String(line.text.dropFirst()).trimmingCharacters(in: .whitespaces)
                index += 1
                if rest.isEmpty {
                    items.append(try parseBlock(lines, &index, indent: blockIndent + 1, depth: depth + 1) ?? .scalar("", tag: nil))
                } else if let (key, value) = splitKey(rest) {
                    // "- key: value" starts an inline mapping; keep just this entry plus deeper lines.
                    let node = try parseValue(value, lines, &index, parentIndent: blockIndent, lineNumber: line.number, depth: depth)
                    var entries = [(key: key, value: node)]
                    if case .map(let more, _)? = try parseBlock(lines, &index, indent: blockIndent + 1, depth: depth + 1) {
                        entries += more
                    }
                    items.append(.map(entries, tag: nil))
                } else {
                    items.append(try parseInline(rest, lineNumber: line.number))
                }
            }
            return .list(items, tag: nil)
        }
        var entries: [(key: String, value: Node)] = []
        while index < lines.count, lines[index].indent == blockIndent {
            let line = lines[index]
            guard let (key, value) = splitKey(line.text) else {
                throw ParseError(line: line.number, message: "expected 'key: value', found '\(line.text)'")
            }
            index += 1
            let node = try parseValue(value, lines, &index, parentIndent: blockIndent, lineNumber: line.number, depth: depth)
            entries.append((key, node))
        }
        if index < lines.count, lines[index].indent > blockIndent {
            throw ParseError(line: lines[index].number, message: "unexpected indentation")
        }
        return .map(entries, tag: nil)
    }

    /// The value after `key:`: inline, or a nested block on the following, deeper lines (a tag alone on the
    /// line applies to that block).
    private static func parseValue(_ text: String, _ lines: [Line], _ index: inout Int, parentIndent: Int,
                                   lineNumber: Int, depth: Int) throws -> Node {
        var tag: String?
        var rest = text
        if rest.hasPrefix("!") {
            let end = rest.firstIndex(where: { $0 == " " || $0 == "\t" }) ?? rest.endIndex
            tag = String(rest[..<end])
            rest = String(rest[end...]).trimmingCharacters(in: .whitespaces)
        }
        if rest.isEmpty {
            let nested: Node?
            if index < lines.count, lines[index].indent > parentIndent {
                nested = try parseBlock(lines, &index, indent: parentIndent + 1, depth: depth + 1)
            } else if index < lines.count, lines[index].indent == parentIndent, lines[index].text.hasPrefix("- ") {
                // A block list may sit at the key's own indentation.
                nested = try parseBlock(lines, &index, indent: parentIndent, depth: depth + 1)
            } else {
                nested = nil
            }
            switch nested {
            case .map(let entries, _)?: return .map(entries, tag: tag)
            case .list(let items, _)?: return .list(items, tag: tag)
            case .scalar(let value, _)?: return .scalar(value, tag: tag)
            case nil: return .scalar("", tag: tag)
            }
        }
        let node = try parseInline(rest, lineNumber: lineNumber)
        guard let tag else { return node }
        switch node {
        case .scalar(let value, _): return .scalar(value, tag: tag)
        case .list(let items, _): return .list(items, tag: tag)
        case .map(let entries, _): return .map(entries, tag: tag)
        }
    }

    /// A scalar or a flow list (flow mappings are kept as opaque scalars).
    private static func parseInline(_ text: String, lineNumber: Int) throws -> Node {
        var tag: String?
        var rest = text
        if rest.hasPrefix("!") {
            let end = rest.firstIndex(where: { $0 == " " || $0 == "\t" }) ?? rest.endIndex
            tag = String(rest[..<end])
            rest = String(rest[end...]).trimmingCharacters(in: .whitespaces)
        }
        if rest.hasPrefix("[") {
            guard rest.hasSuffix("]"), bracketBalance(rest) == 0 else {
                throw ParseError(line: lineNumber, message: "unterminated flow list '\(rest)'")
            }
            let inner = String(rest.dropFirst().dropLast())
            var items: [Node] = []
            for part in splitFlowItems(inner) {
                let item = part.trimmingCharacters(in: .whitespaces)
                if item.isEmpty { continue }
                items.append(try parseInline(item, lineNumber: lineNumber))
            }
            return .list(items, tag: tag)
        }
        return .scalar(unquote(rest), tag: tag)
    }

    private static func splitFlowItems(_ text: String) -> [String] {
        var parts: [String] = []
        var current = ""
        var depth = 0
        var quote: Character?
        for c in text {
            if let q = quote {
                if c == q { quote = nil }
                current.append(c)
                continue
            }
            switch c {
            case "\"", "'": quote = c
            case "[", "{": depth += 1
            case "]", "}": depth -= 1
            case "," where depth == 0:
                parts.append(current)
                current = ""
                continue
            default: break
            }
            current.append(c)
        }
        parts.append(current)
        return parts
    }

    /// `key: value` → (key, value); the colon must be followed by a space or end the line.
    private static func splitKey(_ text: String) -> (String, String)? {
        var quote: Character?
        for i in text.indices {
            let c = text[i]
            if let q = quote {
                if c == q { quote = nil }
                continue
            }
            if c == "\"" || c == "'" {
                if i == text.startIndex { quote = c }
                continue
            }
            if c == ":" {
                let next = text.index(after: i)
                if next == text.endIndex || text[next] == " " || text[next] == "\t" {
                    let key = unquote(String(text[..<i]).trimmingCharacters(in: .whitespaces))
                    let value = String(text[next...]).trimmingCharacters(in: .whitespaces)
                    return key.isEmpty ? nil : (key, value)
                }
            }
        }
        return nil
    }

    private static func unquote(_ text: String) -> String {
        if text.count >= 2, let first = text.first, first == text.last, first == "\"" || first == "'" {
            return String(text.dropFirst().dropLast())
        }
        return text
    }

    // MARK: - Values

    /// Follows `!ref <key>` to a top-level value (chains allowed, cycles refused).
    func resolve(_ node: Node, lineContext: String) throws -> Node {
        var current = node
        var seen: Set<String> = []
        while case .scalar(let text, let tag) = current, tag == "!ref" {
            let trimmed = text.trimmingCharacters(in: .whitespaces)
            guard trimmed.hasPrefix("<"), trimmed.hasSuffix(">") else {
                throw ParseError(line: 0, message: "\(lineContext): '!ref \(text)' is not a plain reference (expressions are not supported)")
            }
            let name = String(trimmed.dropFirst().dropLast())
            guard !name.contains("<"), !name.contains(">"), !name.contains(" ") else {
                throw ParseError(line: 0, message: "\(lineContext): '!ref \(text)' is not a plain reference (expressions are not supported)")
            }
            guard seen.insert(name).inserted else {
                throw ParseError(line: 0, message: "\(lineContext): circular reference to '\(name)'")
            }
            let components = name.split(separator: ".").map(String.init)
            var target: Node?
            if let first = components.first {
                do {
                    target = try entry(first)
                } catch let error as ParseError {
                    throw ParseError(line: error.line, message: "\(lineContext): '!ref <\(name)>' names an entry that cannot be read (line \(error.line): \(error.message))")
                }
            }
            for component in components.dropFirst() {
                target = target?.value(component)
            }
            guard let target else {
                throw ParseError(line: 0, message: "\(lineContext): '!ref <\(name)>' names no key")
            }
            current = target
        }
        return current
    }
}
