import Foundation
import GatewayCore
import GatewayFormats
import GatewayTransport

/// Every kind of action this gateway performs, in the order a pass takes them: credentials before
/// anything that tells the customer, the factory before registration. Adding a kind is one file
/// with its `ActionPerformer` and one line here.
enum ActionRegistry {
    static func performers(
        config: GatewayConfig, registrationMappings: [String: RegistrationMapping], sleep: @escaping @Sendable (TimeInterval) -> Void
    ) -> [any ActionPerformer] {
        var out: [any ActionPerformer] = [
            CredentialsAction(outbox: config.outbox),
            NotifyAction(outbox: config.outbox),
            ReleaseToStockAction(outbox: config.outbox),
            StockSoldAction(outbox: config.outbox),
            LinkAuthorizationAction(outbox: config.outbox),
        ]
        // Without a factory configured, reserved orders wait: no person orders from the factory.
        if let f = config.factory { out.append(FactoryOrderAction(factory: f, client: HTTPClient(tls: TLSOptions(caBundle: f.caBundle)))) }
        // Registration always runs: a country without an endpoint is registered in file mode.
        out.append(RegistrationAction(config: config, mappings: registrationMappings, sleep: sleep))
        return out
    }
}
