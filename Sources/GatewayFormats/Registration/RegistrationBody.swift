import Foundation
import GatewayCore

/// Request bodies written from dotted paths, and answers read back into dotted paths, in JSON or
/// XML. Written by hand, not by a serialiser: key order and bytes must not change between
/// attempts of the same submission.
enum RegistrationBody {
    /// Nested objects, keys in document order, every value a string.
    static func json(_ leaves: [([String], String)]) -> Data {
        func object(_ nodes: [Node]) -> String {
            let members = nodes.map { node in
                JSONText.quoted(node.name) + ":" + (node.text.map(JSONText.quoted) ?? object(node.children))
            }
            return "{" + members.joined(separator: ",") + "}"
        }
        return Data(object(group(leaves)).utf8)
    }

    static func xml(_ leaves: [([String], String)], namespace: String?) -> Data {
        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        var first = true
        func element(_ nodes: [Node], _ out: inout String) {
            for node in nodes {
                let ns = first ? namespace.map { " xmlns=\"\(escapeXML($0))\"" } ?? "" : ""
                first = false
                out += "<\(node.name)\(ns)>"
                if let text = node.text { out += escapeXML(text) } else { element(node.children, &out) }
                out += "</\(node.name)>"
            }
        }
        element(group(leaves), &out)
        return Data((out + "\n").utf8)
    }

    /// A tree node: a leaf has text, an inner node children.
    struct Node {
        let name: String
        var text: String?
        var children: [Node]
    }

    static func group(_ leaves: [([String], String)]) -> [Node] {
        var nodes: [Node] = []
        for (path, value) in leaves {
            insert(path[...], value, into: &nodes)
        }
        return nodes
    }

    static func insert(_ path: ArraySlice<String>, _ value: String, into nodes: inout [Node]) {
        guard let head = path.first else { return }
        let rest = path.dropFirst()
        if let i = nodes.firstIndex(where: { $0.name == head && $0.text == nil && !rest.isEmpty }) {
            insert(rest, value, into: &nodes[i].children)
        } else if rest.isEmpty {
            nodes.append(Node(name: head, text: value, children: []))
        } else {
            var node = Node(name: head, text: nil, children: [])
            insert(rest, value, into: &node.children)
            nodes.append(node)
        }
    }

    static func escapeXML(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case _ where c.value < 0x20 && c != "\n" && c != "\t" && c != "\r": continue  // not allowed in XML 1.0
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// An answer's values: JSON objects flattened to dotted keys (scalars as text), or XML leaves.
    static func values(_ data: Data) -> [String: String]? {
        let first = data.first { !($0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09) }
        if first == UInt8(ascii: "<") { return try? XMLStreamReader.leafValues(data) }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
        var out: [String: String] = [:]
        func flatten(_ o: [String: Any], _ prefix: String) {
            for (k, v) in o {
                let key = prefix.isEmpty ? k : prefix + "." + k
                switch v {
                case let d as [String: Any]: flatten(d, key)
                case let s as String: out[key] = s
                case let n as NSNumber: out[key] = n.stringValue
                default: break
                }
            }
        }
        flatten(object, "")
        return out
    }
}
