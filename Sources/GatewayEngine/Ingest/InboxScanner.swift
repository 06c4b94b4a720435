import Crypto
import Foundation
import GatewayCore

/// A file waiting under `inbox/`, identified by its content.
public struct InboxFile: Sendable, Hashable {
    public let path: String
    /// Path relative to the inbox: `intranet-sales/SALES_….xml` or `SALES_….xml`.
    public let relativePath: String
    public var name: String { (relativePath as NSString).lastPathComponent }
    /// The first folder under the inbox, which names the feed when pulls put the file there.
    public var folder: String? {
        let parts = relativePath.split(separator: "/")
        return parts.count > 1 ? String(parts[0]) : nil
    }
    public let size: Int64
    public let modified: Date
}

enum InboxScanner {
    /// Every regular file under the inbox, sorted by relative path. Hidden files and temporary
    /// names (`.part`, `.tmp`) are transfers in progress and are left alone.
    static func scan(_ inbox: String) -> [InboxFile] {
        let fm = FileManager.default
        guard let walker = fm.enumerator(atPath: inbox) else { return [] }
        var out: [InboxFile] = []
        while let rel = walker.nextObject() as? String {
            let name = (rel as NSString).lastPathComponent
            if name.hasPrefix(".") || name.hasSuffix(".part") || name.hasSuffix(".tmp") {
                if (walker.fileAttributes?[.type] as? FileAttributeType) == .typeDirectory { walker.skipDescendants() }
                continue
            }
            let path = (inbox as NSString).appendingPathComponent(rel)
            guard let attrs = try? fm.attributesOfItem(atPath: path), (attrs[.type] as? FileAttributeType) == .typeRegular else { continue }
            out.append(
                InboxFile(
                    path: path, relativePath: rel, size: (attrs[.size] as? NSNumber)?.int64Value ?? 0,
                    modified: attrs[.modificationDate] as? Date ?? WallClock.now()))
        }
        return out.sorted { $0.relativePath < $1.relativePath }
    }

    /// SHA-256 of the content, streamed in 1 MiB reads.
    static func sha256(path: String) throws -> String {
        guard let f = fopen(path, "rb") else { throw AtomicFile.posixError("cannot open \(path)") }
        defer { fclose(f) }
        var hasher = SHA256()
        let size = 1 << 20
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 16)
        defer { buf.deallocate() }
        while true {
            let n = fread(buf.baseAddress, 1, size, f)
            if n > 0 { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buf[0..<n])) }
            if n < size {
                if ferror(f) != 0 { throw AtomicFile.posixError("cannot read \(path)") }
                break
            }
        }
        return Hex.encode(hasher.finalize())
    }
}
