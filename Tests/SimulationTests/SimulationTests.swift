import Simulation
import Testing

/// The saga under simulation, inside `make test`: a fixed budget of seeds, each a workload of
/// customers over crashing instances, a flaky database, router and Conekta (`make simulate`
/// runs more).
@Suite struct SimulationTests {
    @Test func everySeedOfTheBudgetKeepsTheContract() {
        for seed in UInt64(1)...200 {
            let report = Simulation(seed: seed).run()
            #expect(report.passed, "seed \(seed): \(report.violations.joined(separator: "; ")) — make simulate SEED=\(seed)")
            #expect(report.attempts > 0)
            if !report.passed { break }
        }
    }

    @Test func aSeedReplaysExactly() {
        let first = Simulation(seed: 42).run()
        let again = Simulation(seed: 42).run()
        #expect(first.trace == again.trace && first.finalStates == again.finalStates && first.steps == again.steps)
        #expect(first.trace != Simulation(seed: 43).run().trace)
    }

    @Test func theFaultsDoHappen() {
        let traces = (UInt64(1)...20).flatMap { Simulation(seed: $0).run().trace }.joined(separator: "\n")
        for event in ["crashes", "database down", "router unreachable", "fault: orders.create afterApplying", "completes 3-D Secure"] {
            #expect(traces.contains(event), "no seed of 1…20 has \(event)")
        }
    }
}
