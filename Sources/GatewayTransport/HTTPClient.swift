import CCurl
import Foundation

public struct HTTPRequest: Sendable {
    public var method: String
    public var url: String
    public var headers: [(String, String)]
    public var body: Data?
    public var timeout: TimeInterval
    public var connectTimeout: TimeInterval

    public init(
        method: String, url: String, headers: [(String, String)] = [], body: Data? = nil, timeout: TimeInterval = 30,
        connectTimeout: TimeInterval = 10
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
        self.connectTimeout = connectTimeout
    }
}

public struct HTTPResponse: Sendable {
    public let status: Int
    /// Header names lower-cased; the last value of a repeated header wins.
    public let headers: [String: String]
    public let body: Data

    /// `Retry-After` in seconds (the HTTP-date form is read as "later": 60 s).
    public var retryAfter: TimeInterval? {
        guard let v = headers["retry-after"]?.trimmingCharacters(in: .whitespaces) else { return nil }
        return Double(v) ?? 60
    }
}

/// TLS is always verified: peer certificate and host name. These only say what to trust and
/// which client certificate to present.
public struct TLSOptions: Sendable {
    public var caBundle: String?
    public var clientCertificate: String?
    public var clientKey: String?

    public init(caBundle: String? = nil, clientCertificate: String? = nil, clientKey: String? = nil) {
        self.caBundle = caBundle
        self.clientCertificate = clientCertificate
        self.clientKey = clientKey
    }
}

/// HTTP over libcurl, one request at a time on the calling thread. Every request gets a fresh
/// connection that is not kept: libcurl silently sends a request again when a reused keep-alive
/// connection turns out to be dead, and a state-changing POST must not reach a partner twice
/// without its idempotency key being the only thing that saves us.
///
/// TLS sessions are shared between the client's requests (a fresh connection resumes the last
/// session instead of a full handshake): a pass of hundreds of calls to one partner spends its
/// time waiting for answers, not on key exchanges. Nothing else is shared.
public final class HTTPClient: @unchecked Sendable {
    public let tls: TLSOptions
    private static let initialised: CURLcode = curl_global_init(Int(CURL_GLOBAL_DEFAULT))
    private let sessions: TLSSessionCache?

    public init(tls: TLSOptions = TLSOptions()) {
        _ = Self.initialised
        self.tls = tls
        sessions = TLSSessionCache()
    }

    /// A curl share handle holding TLS sessions, locked for use from several threads at once.
    final class TLSSessionCache: @unchecked Sendable {
        let handle: UnsafeMutableRawPointer
        let lock = NSLock()

        init?() {
            guard let h = curl_share_init() else { return nil }
            handle = h
            let me = Unmanaged.passUnretained(self).toOpaque()
            guard caas_curl_share_set_pointer(h, CURLSHOPT_USERDATA, me) == CURLSHE_OK,
                caas_curl_share_set_lock(
                    h,
                    { _, _, _, ctx in
                        Unmanaged<TLSSessionCache>.fromOpaque(ctx!).takeUnretainedValue().lock.lock()
                    }) == CURLSHE_OK,
                caas_curl_share_set_unlock(
                    h,
                    { _, _, ctx in
                        Unmanaged<TLSSessionCache>.fromOpaque(ctx!).takeUnretainedValue().lock.unlock()
                    }) == CURLSHE_OK,
                caas_curl_share_set_long(h, CURLSHOPT_SHARE, Int(CURL_LOCK_DATA_SSL_SESSION.rawValue)) == CURLSHE_OK
            else {
                curl_share_cleanup(h)
                return nil
            }
        }

        deinit { curl_share_cleanup(handle) }
    }

    final class Collector {
        var body = Data()
        var headers: [String: String] = [:]
    }

    public func send(_ request: HTTPRequest) throws -> HTTPResponse {
        guard let h = curl_easy_init() else { throw TransportError(.local, "cannot create an HTTP handle") }
        defer { curl_easy_cleanup(h) }
        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        let collector = Collector()
        let context = Unmanaged.passUnretained(collector).toOpaque()
        var headerList: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(headerList) }

        try errorBuffer.withUnsafeMutableBufferPointer { eb in
            func check(_ rc: CURLcode, _ what: String) throws {
                guard rc == CURLE_OK else { throw TransportError(.local, "cannot set \(what): \(String(cString: curl_easy_strerror(rc)))") }
            }
            try check(caas_curl_set_string(h, CURLOPT_URL, request.url), "the URL")
            try check(caas_curl_set_pointer(h, CURLOPT_ERRORBUFFER, eb.baseAddress), "the error buffer")
            try check(caas_curl_set_long(h, CURLOPT_NOSIGNAL, 1), "NOSIGNAL")
            try check(caas_curl_set_long(h, CURLOPT_FRESH_CONNECT, 1), "FRESH_CONNECT")
            try check(caas_curl_set_long(h, CURLOPT_FORBID_REUSE, 1), "FORBID_REUSE")
            if let sessions { try check(caas_curl_set_pointer(h, CURLOPT_SHARE, sessions.handle), "the TLS session cache") }
            try check(caas_curl_set_long(h, CURLOPT_SSL_VERIFYPEER, 1), "SSL_VERIFYPEER")
            try check(caas_curl_set_long(h, CURLOPT_SSL_VERIFYHOST, 2), "SSL_VERIFYHOST")
            try check(caas_curl_set_string(h, CURLOPT_PROTOCOLS_STR, "https,http"), "the protocols")
            try check(caas_curl_set_long(h, CURLOPT_FOLLOWLOCATION, 0), "FOLLOWLOCATION")
            try check(caas_curl_set_long(h, CURLOPT_TIMEOUT_MS, Int(request.timeout * 1000)), "the time-out")
            try check(caas_curl_set_long(h, CURLOPT_CONNECTTIMEOUT_MS, Int(request.connectTimeout * 1000)), "the connect time-out")
            if let ca = tls.caBundle { try check(caas_curl_set_string(h, CURLOPT_CAINFO, ca), "the CA bundle") }
            if let cert = tls.clientCertificate { try check(caas_curl_set_string(h, CURLOPT_SSLCERT, cert), "the client certificate") }
            if let key = tls.clientKey { try check(caas_curl_set_string(h, CURLOPT_SSLKEY, key), "the client key") }
            for (name, value) in request.headers { headerList = curl_slist_append(headerList, "\(name): \(value)") }
            headerList = curl_slist_append(headerList, "Expect:")  // no 100-continue round trip
            try check(caas_curl_set_pointer(h, CURLOPT_HTTPHEADER, UnsafeMutableRawPointer(headerList)), "the headers")
            switch request.method {
            case "GET": try check(caas_curl_set_long(h, CURLOPT_HTTPGET, 1), "GET")
            case "POST": try check(caas_curl_set_long(h, CURLOPT_POST, 1), "POST")
            default: try check(caas_curl_set_string(h, CURLOPT_CUSTOMREQUEST, request.method), "the method")
            }
            if let body = request.body {
                try check(caas_curl_set_offset(h, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count)), "the body size")
                try body.withUnsafeBytes { raw in
                    try check(
                        caas_curl_set_pointer(h, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: raw.baseAddress)), "the body")
                }
            }
            try check(
                caas_curl_set_callback(h, CURLOPT_WRITEFUNCTION) { data, size, count, ctx in
                    let c = Unmanaged<Collector>.fromOpaque(ctx!).takeUnretainedValue()
                    if let data { c.body.append(UnsafeRawPointer(data).assumingMemoryBound(to: UInt8.self), count: size * count) }
                    return size * count
                }, "the body callback")
            try check(caas_curl_set_pointer(h, CURLOPT_WRITEDATA, context), "the body context")
            try check(
                caas_curl_set_callback(h, CURLOPT_HEADERFUNCTION) { data, size, count, ctx in
                    let c = Unmanaged<Collector>.fromOpaque(ctx!).takeUnretainedValue()
                    if let data {
                        let line = String(decoding: UnsafeRawBufferPointer(start: data, count: size * count), as: UTF8.self)
                        if let colon = line.firstIndex(of: ":") {
                            c.headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                                in: .whitespacesAndNewlines)
                        }
                    }
                    return size * count
                }, "the header callback")
            try check(caas_curl_set_pointer(h, CURLOPT_HEADERDATA, context), "the header context")
        }
        let rc = curl_easy_perform(h)
        guard rc == CURLE_OK else {
            let message = String(decoding: errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let detail = message.isEmpty ? String(cString: curl_easy_strerror(rc)) : message
            throw Self.classify(rc, url: request.url, detail: detail)
        }
        var status = 0
        _ = caas_curl_get_long(h, CURLINFO_RESPONSE_CODE, &status)
        return HTTPResponse(status: status, headers: collector.headers, body: collector.body)
    }

    /// The network (worth a retry) or TLS and configuration (a person must look).
    static func classify(_ rc: CURLcode, url: String, detail: String) -> TransportError {
        let transient: Set<UInt32> = [
            CURLE_COULDNT_CONNECT.rawValue, CURLE_OPERATION_TIMEDOUT.rawValue, CURLE_GOT_NOTHING.rawValue,
            CURLE_SEND_ERROR.rawValue, CURLE_RECV_ERROR.rawValue, CURLE_COULDNT_RESOLVE_HOST.rawValue,
            CURLE_PARTIAL_FILE.rawValue,
        ]
        let tls: Set<UInt32> = [
            CURLE_PEER_FAILED_VERIFICATION.rawValue, CURLE_SSL_CACERT_BADFILE.rawValue, CURLE_SSL_CERTPROBLEM.rawValue,
            CURLE_SSL_CONNECT_ERROR.rawValue,
        ]
        // A TLS 1.3 server refuses a missing or untrusted client certificate after the handshake:
        // libcurl reports a receive error, but the peer's TLS alert says what happened.
        let tlsAlert = (rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR) && detail.contains("SSL") && detail.contains("alert")
        if tlsAlert { return TransportError(.hostKey, "\(url): TLS refused: \(detail)") }
        if transient.contains(rc.rawValue) { return TransportError(.connection, "\(url): \(detail)") }
        if tls.contains(rc.rawValue) { return TransportError(.hostKey, "\(url): TLS refused: \(detail)") }
        return TransportError(.remote, "\(url): \(detail)")
    }
}
