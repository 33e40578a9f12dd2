import Configuration
import Domain
import Foundation
import Testing

@testable import Wiring

/// The payment service gets every payment setting of the configuration, whichever executable
/// builds it (the server and `hotspotctl reconcile` both build through `PaymentWiring`).
@Suite struct SettingsTests {
    @Test func everyConfiguredPaymentSettingReachesThePaymentService() throws {
        let configuration = try Configuration.load(environment: [
            "HOTSPOT_DATABASE_URL": "postgresql:///hotspot",
            "HOTSPOT_KEY_SECRET": String(repeating: "k", count: 32),
            "HOTSPOT_SECRETS_KEY": Data(repeating: 1, count: 32).base64EncodedString(),
            "HOTSPOT_ACTIVATION_DEADLINE_SECONDS": "301", "HOTSPOT_ORDER_LOOKUP_GRACE_SECONDS": "61",
            "HOTSPOT_AUTO_CONNECT_BUDGET_MS": "3001", "HOTSPOT_DECLINE_WINDOW_SECONDS": "901", "HOTSPOT_DECLINES_PER_MAC": "4",
            "HOTSPOT_DECLINES_PER_ADDRESS": "11", "HOTSPOT_DECLINES_PER_ROUTER": "51", "HOTSPOT_PROFILE_CHECK_SECONDS": "31",
            "HOTSPOT_RECONCILE_INTERVAL_MS": "3000", "HOTSPOT_RETRY_MAX_SECONDS": "17", "HOTSPOT_CONEKTA_TIMEOUT_MS": "20001",
            "HOTSPOT_ROUTER_TIMEOUT_MS": "4001", "HOTSPOT_PAY_LATER_POLL_SECONDS": "30", "HOTSPOT_PAY_LATER_POLL_MAX_SECONDS": "300",
            "HOTSPOT_PAY_LATER_CANCEL_GRACE_SECONDS": "1800", "HOTSPOT_CLAIM_GUESS_WINDOW_SECONDS": "1200",
            "HOTSPOT_CLAIM_GUESSES_PER_MAC": "5", "HOTSPOT_CLAIM_GUESSES_PER_ADDRESS": "6", "HOTSPOT_CLAIM_GUESSES_PER_ROUTER": "7",
        ])
        let settings = PaymentService.Settings(configuration)
        #expect(settings.activationDeadlineSeconds == 301 && settings.lookupGraceSeconds == 61)
        #expect(settings.autoConnectBudgetMilliseconds == 3001 && settings.declineWindowSeconds == 901)
        #expect(settings.declinesPerMAC == 4 && settings.declinesPerAddress == 11 && settings.declinesPerRouter == 51)
        #expect(settings.profileCheckSeconds == 31)
        #expect(settings.retry == RetrySchedule(baseSeconds: 3, ceilingSeconds: 17))
        #expect(settings.chargeTimeoutSeconds == 21)
        #expect(settings.payLaterPoll == RetrySchedule(baseSeconds: 30, ceilingSeconds: 300))
        #expect(settings.payLaterCancelGraceSeconds == 1800 && settings.claimGuessWindowSeconds == 1200)
        #expect(settings.claimGuessesPerMAC == 5 && settings.claimGuessesPerAddress == 6 && settings.claimGuessesPerRouter == 7)
        // 4 router calls of 4.001 s, 2 Conekta calls of 20.001 s, 3.001 s of auto-connect: 59 s, and 5 s.
        #expect(settings.leaseSeconds == 59 + 5 && settings.leaseSeconds == configuration.paymentLeaseSeconds)
    }

    @Test func everySweepSettingReachesTheSweeperAndItsLeaseOutlastsAPass() throws {
        let configuration = try Configuration.load(environment: [
            "HOTSPOT_DATABASE_URL": "postgresql:///hotspot",
            "HOTSPOT_KEY_SECRET": String(repeating: "k", count: 32),
            "HOTSPOT_SECRETS_KEY": Data(repeating: 1, count: 32).base64EncodedString(),
            "HOTSPOT_SWEEP_INTERVAL": "90", "HOTSPOT_SWEEP_BATCH": "75", "HOTSPOT_SWEEP_PAUSE_MS": "35",
            "HOTSPOT_ROUTER_TIMEOUT_MS": "10000",
        ])
        let settings = AccessSweeper.Settings(configuration)
        #expect(settings.intervalSeconds == 90 && settings.batch == 75 && settings.pauseMilliseconds == 35)
        // The listing's 30 s, the 60 s budget, the last removal's two calls of 10 s, and a margin.
        #expect(settings.passBudgetSeconds == 60 && settings.leaseSeconds == 30 + 60 + 20 + 30)
        #expect(settings.backoffCeilingSeconds == 600 && settings.soonSeconds == 1)
    }

    @Test func theRouterCheckIntervalReachesTheMonitorAndItsLeaseOutlastsSevenCalls() throws {
        let configuration = try Configuration.load(environment: [
            "HOTSPOT_DATABASE_URL": "postgresql:///hotspot",
            "HOTSPOT_KEY_SECRET": String(repeating: "k", count: 32),
            "HOTSPOT_SECRETS_KEY": Data(repeating: 1, count: 32).base64EncodedString(),
            "HOTSPOT_ROUTER_CHECK_INTERVAL": "120", "HOTSPOT_ROUTER_TIMEOUT_MS": "10000",
        ])
        let settings = RouterHealthMonitor.Settings(configuration)
        #expect(settings.intervalSeconds == 120 && settings.leaseSeconds == 7 * 10 + 30)
        #expect(settings.checker.clockSkewWarningSeconds == 60)
    }
}
