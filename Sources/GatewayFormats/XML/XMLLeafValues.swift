import CLibXML2
import Foundation

extension XMLStreamReader {
    /// The text of every leaf element of a small document held in memory (a partner API's
    /// answer), keyed by the dotted path of local names from the root: `Reponse.Numero`. The same
    /// safe options as for files: no network, no DTD, a DOCTYPE refused.
    public static func leafValues(_ data: Data) throws -> [String: String] {
        _ = installLoader
        return try data.withUnsafeBytes { raw -> [String: String] in
            guard let base = raw.baseAddress?.assumingMemoryBound(to: CChar.self),
                let reader = xmlReaderForMemory(base, Int32(raw.count), nil, nil, options)
            else { throw XMLFileError(line: 0, message: "empty document") }
            defer { xmlFreeTextReader(reader) }
            xmlTextReaderSetStructuredErrorHandler(reader, { _, _ in }, nil)
            var stack: [String] = []
            var values: [String: String] = [:]
            var status = xmlTextReaderRead(reader)
            while status == 1 {
                let type = xmlTextReaderNodeType(reader)
                switch type {
                case Int32(XML_READER_TYPE_DOCUMENT_TYPE.rawValue), Int32(XML_READER_TYPE_ENTITY_REFERENCE.rawValue):
                    throw XMLFileError(line: 0, message: "DOCTYPE declarations and entities are refused")
                case Int32(XML_READER_TYPE_ELEMENT.rawValue):
                    let depth = Int(xmlTextReaderDepth(reader))
                    if stack.count > depth { stack.removeLast(stack.count - depth) }
                    stack.append(xmlTextReaderConstLocalName(reader).map { String(cString: $0) } ?? "")
                    if xmlTextReaderIsEmptyElement(reader) == 1 { values[stack.joined(separator: "."), default: ""] += "" }
                case Int32(XML_READER_TYPE_TEXT.rawValue), Int32(XML_READER_TYPE_CDATA.rawValue):
                    let text = xmlTextReaderConstValue(reader).map { String(cString: $0) } ?? ""
                    values[stack.joined(separator: "."), default: ""] += text
                default: break
                }
                status = xmlTextReaderRead(reader)
            }
            guard status == 0 else { throw XMLFileError(line: 0, message: "the document is not well-formed") }
            return values.mapValues { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        }
    }
}
