import Foundation
import GatewayCore

/// Customers and their activation credentials.
public protocol CustomerStore: Sendable {
    func customer(username: String) throws -> CustomerRecord?
    func credential(customerID: String) throws -> CredentialRecord?
}

public struct CustomerRecord: Sendable, Equatable {
    public let customerID: String
    /// The login name: the customer's e-mail address.
    public let username: String
    public let createdAt: Date

    public init(customerID: String, username: String, createdAt: Date) {
        self.customerID = customerID
        self.username = username
        self.createdAt = createdAt
    }
}

/// An activation credential. Only the token's SHA-256 is kept; the token itself exists once, in
/// the welcome notification.
public struct CredentialRecord: Sendable, Equatable {
    public let customerID: String
    public let tokenHash: String
    public let expiresAt: Date
    public let issuedAt: Date
    public let orderRef: String

    public init(customerID: String, tokenHash: String, expiresAt: Date, issuedAt: Date, orderRef: String) {
        self.customerID = customerID
        self.tokenHash = tokenHash
        self.expiresAt = expiresAt
        self.issuedAt = issuedAt
        self.orderRef = orderRef
    }
}
