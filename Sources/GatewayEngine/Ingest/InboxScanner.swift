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

/// Something in the inbox that is not a file the gateway can take: it is left where it is and
/// shown to integration (`inbox_entry_unreadable`) for as long as it stays.
public struct InboxProblem: Sendable, Hashable {
    /// Path relative to the inbox.
    public let relativePath: String
    /// What it is and why it cannot be taken, for an operator (never its content).
    public let reason: String
}

/// A file could not be opened or read (permissions, an I/O error): that file waits, the rest of
/// the run goes on.
struct InboxFileUnreadable: Error, CustomStringConvertible {
    let description: String
}

enum InboxScanner {
    /// Every regular file under the inbox, sorted by relative path, and everything else that is
    /// there and cannot be taken (a FIFO, a socket or device, a link to nothing, a file or folder
    /// it may not read). Hidden files and temporary names (`.part`, `.tmp`) are transfers in
    /// progress and are left alone.
    static func scan(_ inbox: String) -> (files: [InboxFile], problems: [InboxProblem]) {
        var files: [InboxFile] = []
        var problems: [InboxProblem] = []
        walk(inbox, relative: "", files: &files, problems: &problems)
        return (files.sorted { $0.relativePath < $1.relativePath }, problems.sorted { $0.relativePath < $1.relativePath })
    }

    /// One folder, by lstat, so that a link is seen as a link and a FIFO is never opened.
    private static func walk(_ dir: String, relative: String, files: inout [InboxFile], problems: inout [InboxProblem]) {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: dir) } catch {
            // The inbox itself missing is no problem (nothing dropped yet); a feed folder we may not list is.
            if !relative.isEmpty { problems.append(InboxProblem(relativePath: relative, reason: "a folder the gateway may not list")) }
            return
        }
        for name in names {
            if name.hasPrefix(".") || name.hasSuffix(".part") || name.hasSuffix(".tmp") { continue }
            let path = (dir as NSString).appendingPathComponent(name)
            let rel = relative.isEmpty ? name : relative + "/" + name
            var st = stat()
            guard lstat(path, &st) == 0 else {
                problems.append(InboxProblem(relativePath: rel, reason: "cannot be examined: \(String(cString: strerror(errno)))"))
                continue
            }
            var kind = st.st_mode & S_IFMT
            if kind == S_IFLNK {
                // A link to a file is taken as the file (pulls never make one; an operator may).
                guard stat(path, &st) == 0 else {
                    problems.append(InboxProblem(relativePath: rel, reason: "a link to nothing (\(String(cString: strerror(errno))))"))
                    continue
                }
                kind = st.st_mode & S_IFMT
                if kind == S_IFDIR {
                    problems.append(InboxProblem(relativePath: rel, reason: "a link to a folder: feed folders are real folders"))
                    continue
                }
            }
            switch kind {
            case S_IFDIR:
                walk(path, relative: rel, files: &files, problems: &problems)
            case S_IFREG:
                guard access(path, R_OK) == 0 else {
                    problems.append(InboxProblem(relativePath: rel, reason: "a file the gateway may not read (\(String(cString: strerror(errno))))"))
                    continue
                }
                files.append(
                    InboxFile(
                        path: path, relativePath: rel, size: Int64(st.st_size),
                        modified: Date(timeIntervalSince1970: Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9)))
            default:
                let what = kind == S_IFIFO ? "a FIFO" : kind == S_IFSOCK ? "a socket" : "a device"
                problems.append(InboxProblem(relativePath: rel, reason: "\(what), not a file: it is never opened"))
            }
        }
    }

    /// SHA-256 of the content, streamed in 1 MiB reads.
    static func sha256(path: String) throws -> String {
        guard let f = fopen(path, "rb") else {
            throw InboxFileUnreadable(description: "cannot open \((path as NSString).lastPathComponent): \(String(cString: strerror(errno)))")
        }
        defer { fclose(f) }
        var hasher = SHA256()
        let size = 1 << 20
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 16)
        defer { buf.deallocate() }
        while true {
            let n = fread(buf.baseAddress, 1, size, f)
            if n > 0 { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buf[0..<n])) }
            if n < size {
                if ferror(f) != 0 {
                    throw InboxFileUnreadable(description: "cannot read \((path as NSString).lastPathComponent): \(String(cString: strerror(errno)))")
                }
                break
            }
        }
        return Hex.encode(hasher.finalize())
    }
}
