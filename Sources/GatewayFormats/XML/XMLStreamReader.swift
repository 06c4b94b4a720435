import CLibXML2
import Foundation

/// An XML problem that stops the file: not well-formed, a DOCTYPE, an entity, a wrong count.
public struct XMLFileError: Error, CustomStringConvertible, Sendable, Equatable {
    public let line: Int
    public let message: String
    public var description: String { line > 0 ? "line \(line): \(message)" : message }
}

/// A qualified name as the mapping spells it, resolved to a namespace URI. Compared as bytes
/// against libxml2's interned names: no String is made for elements the mapping does not use.
public struct QName: Sendable, Hashable, CustomStringConvertible {
    /// The namespace URIs this name accepts (several when versions of a standard differ only in
    /// their namespace, as camt.054 .02, .04 and .08 do); empty for no namespace.
    public let namespaces: [String]
    public let local: String
    let nsBytes: [[CChar]]
    let localBytes: [CChar]

    public init(namespaces: [String], local: String) {
        self.namespaces = namespaces
        self.local = local
        nsBytes = namespaces.map { Array($0.utf8CString) }
        localBytes = Array(local.utf8CString)
    }

    public init(namespace: String?, local: String) {
        self.init(namespaces: namespace.map { [$0] } ?? [], local: local)
    }

    public var namespace: String? { namespaces.first }

    func matches(local l: UnsafePointer<xmlChar>?, namespace ns: UnsafePointer<xmlChar>?) -> Bool {
        guard let l else { return false }
        let localOK = localBytes.withUnsafeBufferPointer {
            strcmp($0.baseAddress!, UnsafeRawPointer(l).assumingMemoryBound(to: CChar.self)) == 0
        }
        guard localOK else { return false }
        guard let ns, ns.pointee != 0 else { return nsBytes.isEmpty }
        return nsBytes.contains { want in
            want.withUnsafeBufferPointer { strcmp($0.baseAddress!, UnsafeRawPointer(ns).assumingMemoryBound(to: CChar.self)) == 0 }
        }
    }

    public var description: String { namespaces.isEmpty ? local : "{\(namespaces.joined(separator: "|"))}\(local)" }
}

/// One step of a relative path: a child element, or the parent (`..`).
public enum XMLStep: Sendable, Hashable {
    case child(QName)
    case parent
}

/// A path relative to a record element: element steps, then optionally `@attribute` or `text()`.
/// `.` is the record itself.
public struct XMLPath: Sendable, Hashable, CustomStringConvertible {
    public var steps: [XMLStep]
    public var attribute: QName?
    public let text: String

    public init(steps: [XMLStep], attribute: QName?, text: String) {
        self.steps = steps
        self.attribute = attribute
        self.text = text
    }

    public var description: String { text }
}

/// One record element expanded from the stream; valid only inside the `records` callback.
public struct XMLRecordView {
    public let number: Int
    public let line: Int
    let node: xmlNodePtr
    /// Attribute values of elements outside records, by the mapping's absolute path text.
    public let documentValues: [String: String]

    /// Text of every node the path selects, in document order.
    public func values(_ path: XMLPath) -> [String] {
        let nodes = select(path.steps)
        if nodes.isEmpty { return [] }
        if let attribute = path.attribute {
            return nodes.compactMap { Self.attribute(of: $0, attribute) }
        }
        return nodes.map { Self.content(of: $0) }
    }

    /// One view per element the steps select, numbered from `firstNumber`: for feeds whose
    /// record holds several items (a bank entry with several transactions).
    func subRecords(_ steps: [XMLStep], firstNumber: Int) -> [XMLRecordView] {
        select(steps).enumerated().map { i, n in
            XMLRecordView(number: firstNumber + i, line: Int(xmlGetLineNo(n)), node: n, documentValues: documentValues)
        }
    }

    func select(_ steps: [XMLStep]) -> [xmlNodePtr] {
        var nodes: [xmlNodePtr] = [node]
        for step in steps {
            var next: [xmlNodePtr] = []
            for n in nodes {
                switch step {
                case .parent:
                    // The record was expanded with its ancestors' earlier children (the reader keeps
                    // what it has read of the enclosing elements), so an entry's own fields are reachable.
                    if let p = n.pointee.parent, p.pointee.type == XML_ELEMENT_NODE, !next.contains(p) { next.append(p) }
                case .child(let name):
                    var child = n.pointee.children
                    while let c = child {
                        if c.pointee.type == XML_ELEMENT_NODE, name.matches(local: c.pointee.name, namespace: c.pointee.ns?.pointee.href) {
                            next.append(c)
                        }
                        child = c.pointee.next
                    }
                }
            }
            nodes = next
            if nodes.isEmpty { return [] }
        }
        return nodes
    }

    public func value(_ path: XMLPath) -> String? { values(path).first }

    static func content(of node: xmlNodePtr) -> String {
        guard let raw = xmlNodeGetContent(node) else { return "" }
        defer { caas_xml_free(raw) }
        return String(cString: raw)
    }

    static func attribute(of node: xmlNodePtr, _ name: QName) -> String? {
        var attr = node.pointee.properties
        while let a = attr {
            if name.matches(local: a.pointee.name, namespace: a.pointee.ns?.pointee.href) {
                guard let raw = xmlNodeListGetString(node.pointee.doc, a.pointee.children, 1) else { return "" }
                defer { caas_xml_free(raw) }
                return String(cString: raw)
            }
            attr = a.pointee.next
        }
        return nil
    }
}

/// An attribute of an element outside the records, such as `/p:Export/@count`.
public struct DocumentAttribute: Sendable, Hashable {
    public let elements: [QName]
    public let attribute: QName

    public init(elements: [QName], attribute: QName) {
        self.elements = elements
        self.attribute = attribute
    }
}

/// What the reader needs to know: where records sit, and which attributes outside records the
/// mapping reads (the export's dealer code, a trailer's event count).
public struct XMLRecordSpec: Sendable {
    public var recordPath: [QName]
    /// Absolute attribute paths outside records, keyed by the mapping's text for them.
    public var documentAttributes: [String: DocumentAttribute]

    public init(recordPath: [QName], documentAttributes: [String: DocumentAttribute] = [:]) {
        self.recordPath = recordPath
        self.documentAttributes = documentAttributes
    }
}

/// Streaming XML over libxml2's xmlTextReader with the safe options: no network, no DTD loading,
/// no entity substitution. A DOCTYPE is refused outright, so no entity is ever declared, and an
/// external entity loader that refuses everything stands behind that as a second wall.
public enum XMLStreamReader {
    /// Options: NONET (no network), COMPACT (memory); never NOENT, DTDLOAD, DTDATTR or HUGE.
    static let options = Int32(XML_PARSE_NONET.rawValue | XML_PARSE_COMPACT.rawValue | XML_PARSE_NOCDATA.rawValue)

    /// Counts attempts to load anything external, so tests can prove there were none.
    nonisolated(unsafe) public private(set) static var externalLoadAttempts = 0

    static let installLoader: Void = {
        xmlSetExternalEntityLoader { _, _, _ in
            XMLStreamReader.externalLoadAttempts += 1
            return nil
        }
        xmlSetGenericErrorFunc(nil, nil)
    }()

    /// Reads the file and calls `body` for each record element. Returns the document values at
    /// the end (so a trailer after the records can be checked). Throws `XMLFileError`.
    @discardableResult
    public static func records(path: String, spec: XMLRecordSpec, _ body: (XMLRecordView) throws -> Void) throws -> [String: String] {
        _ = installLoader
        guard let reader = xmlReaderForFile(path, nil, options) else {
            throw XMLFileError(line: 0, message: "cannot open the file")
        }
        defer { xmlFreeTextReader(reader) }
        let errors = ErrorSink()
        let sink = Unmanaged.passUnretained(errors).toOpaque()
        xmlTextReaderSetStructuredErrorHandler(
            reader,
            { ctx, err in
                guard let ctx, let err else { return }
                let sink = Unmanaged<ErrorSink>.fromOpaque(ctx).takeUnretainedValue()
                if sink.first == nil, err.pointee.level.rawValue >= XML_ERR_ERROR.rawValue {
                    let msg =
                        err.pointee.message.map { String(cString: $0).trimmingCharacters(in: .whitespacesAndNewlines) } ?? "parse error"
                    sink.first = XMLFileError(line: Int(err.pointee.line), message: msg)
                }
            }, sink)

        let recordDepth = spec.recordPath.count - 1
        // For every depth, whether the current element is on the record path / on a document path.
        var onRecordPath = [Bool](repeating: false, count: 64)
        var docPrefixes: [[QName]] = spec.documentAttributes.values.map { $0.elements }
        docPrefixes.sort { $0.count < $1.count }
        var stack: [(local: UnsafePointer<xmlChar>?, ns: UnsafePointer<xmlChar>?)] = []
        var documentValues: [String: String] = [:]
        var number = 0

        func fail() -> XMLFileError {
            errors.first ?? XMLFileError(line: Int(xmlTextReaderGetParserLineNumber(reader)), message: "the document is not well-formed")
        }

        var status = xmlTextReaderRead(reader)
        while status == 1 {
            let type = xmlTextReaderNodeType(reader)
            if type == Int32(XML_READER_TYPE_DOCUMENT_TYPE.rawValue) {
                throw XMLFileError(
                    line: Int(xmlTextReaderGetParserLineNumber(reader)),
                    message: "DOCTYPE declarations are refused (no DTDs or entities are accepted from partners)")
            }
            if type == Int32(XML_READER_TYPE_ENTITY_REFERENCE.rawValue) {
                throw XMLFileError(line: Int(xmlTextReaderGetParserLineNumber(reader)), message: "entity references are refused")
            }
            guard type == Int32(XML_READER_TYPE_ELEMENT.rawValue) else {
                status = xmlTextReaderRead(reader)
                continue
            }
            let depth = Int(xmlTextReaderDepth(reader))
            let local = xmlTextReaderConstLocalName(reader)
            let ns = xmlTextReaderConstNamespaceUri(reader)
            if stack.count > depth { stack.removeLast(stack.count - depth) }
            stack.append((local, ns))
            if depth >= onRecordPath.count { onRecordPath.append(contentsOf: repeatElement(false, count: depth + 1)) }

            // The root says which document this is: another one is not this feed's file, however
            // its records would fail later (no records, no count).
            if depth == 0, let first = spec.recordPath.first, !first.matches(local: local, namespace: ns) {
                let got = local.map { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) } ?? "?"
                let gotNS = ns.map { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
                let expected = first.namespaces.isEmpty ? "no namespace" : first.namespaces.joined(separator: " or ")
                throw XMLFileError(
                    line: Int(xmlTextReaderGetParserLineNumber(reader)),
                    message: got == first.local
                        ? "the root element \(got) is in namespace \(gotNS ?? "(none)"), not \(expected) as the mapping expects: a new version of the partner's format? Add its namespace to the mapping's xml.namespaces once checked"
                        : "the root element is \(got)\(gotNS.map { " (\($0))" } ?? ""), not \(first.local) as the mapping expects: a file of another feed or another document type"
                )
            }
            let parentOnPath = depth == 0 || onRecordPath[depth - 1]
            let onPath = parentOnPath && depth <= recordDepth && spec.recordPath[depth].matches(local: local, namespace: ns)
            onRecordPath[depth] = onPath

            // Attributes that the mapping reads from outside the records.
            for (key, target) in spec.documentAttributes where target.elements.count == depth + 1 {
                var all = true
                for (i, q) in target.elements.enumerated() where !q.matches(local: stack[i].local, namespace: stack[i].ns) {
                    all = false
                    break
                }
                if all {
                    let value =
                        target.attribute.namespace.map { nsURI in
                            xmlTextReaderGetAttributeNs(reader, target.attribute.local, nsURI)
                        } ?? xmlTextReaderGetAttribute(reader, target.attribute.local)
                    if let value {
                        documentValues[key] = String(cString: value)
                        caas_xml_free(value)
                    }
                }
            }

            if onPath && depth == recordDepth {
                guard let node = xmlTextReaderExpand(reader) else { throw fail() }
                number += 1
                let view = XMLRecordView(number: number, line: Int(xmlGetLineNo(node)), node: node, documentValues: documentValues)
                try body(view)
                status = xmlTextReaderNext(reader)
                continue
            }
            if !onPath && !docPrefixes.contains(where: { $0.count > depth && prefixMatches($0, stack) }) {
                // Neither a record nor on the way to one: skip the whole subtree.
                status = xmlTextReaderNext(reader)
                continue
            }
            status = xmlTextReaderRead(reader)
        }
        if status < 0 || errors.first != nil { throw fail() }
        return documentValues
    }

    private static func prefixMatches(_ path: [QName], _ stack: [(local: UnsafePointer<xmlChar>?, ns: UnsafePointer<xmlChar>?)]) -> Bool {
        for (i, s) in stack.enumerated() where !path[i].matches(local: s.local, namespace: s.ns) {
            return false
        }
        return true
    }

    private final class ErrorSink {
        var first: XMLFileError?
    }
}
