import Testing

@testable import FCGIEntry

@Suite struct WebhookGateTests {
    @Test func halfTheWorkerThreadsAtMostHandleWebhooks() {
        let gate = WebhookGate(workerThreads: 8)
        #expect(gate.limit == 4)
        #expect((0..<4).allSatisfy { _ in gate.enter() })
        #expect(!gate.enter())
        gate.leave()
        #expect(gate.enter())
        #expect(WebhookGate(workerThreads: 1).limit == 1)
    }
}
