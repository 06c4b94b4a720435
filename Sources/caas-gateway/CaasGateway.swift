import ArgumentParser
import Foundation
import GatewayEngine

@main
struct CaasGateway: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "caas-gateway",
        abstract: "The batch integration gateway of the Car-as-a-Service purchase and delivery process.",
        discussion: """
            Partner files dropped into inbox/ become facts, facts move orders through their lifecycle, \
            the gateway performs what each state calls for and writes a daily report to outbox/reports/.

            EXIT CODES (for cron)
              0   success, nothing needs a person
              2   success, but a person is needed: see the report (a file quarantined,
                  a record rejected, a transfer refused, an action failed, a partner
                  refused our credentials, an exception new since the previous run)
              3   another run holds the lock; this one did nothing
              4   an SFTP source or destination failed; everything else ran
              1   failure: the run could not complete (configuration, store, disk)
              64  usage error (unknown option, bad --as-of)
            """,
        version: GatewayVersion.number,
        subcommands: [
            Run.self, Pull.self, Ingest.self, Act.self, Reconcile.self, Push.self, Orders.self, Explain.self, Registrations.self,
            Resubmit.self, Exceptions.self, Retry.self, Requeue.self, Prune.self, Validate.self, Receive.self, TryMapping.self, Fields.self,
            Store.self,
        ]
    )
}
