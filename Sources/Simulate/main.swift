import Foundation
import Simulation

// hotspot-simulate: the saga under seeded, single-threaded simulation (make simulate).
//   --seed S          one seed, with its trace when it fails
//   --seeds N         seeds FROM … FROM+N-1 (default 1 … 500)
//   --from S          the first seed of a range (default 1)
//   --customers N     customers per seed (default 10)
// Prints each failing seed with its violations, a one-line reproduction and the end of its
// trace; then the totals and seeds per second. Exits 1 when a seed fails.

func value(_ name: String) -> UInt64? {
    let arguments = CommandLine.arguments
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return nil }
    return UInt64(arguments[index + 1])
}

let single = value("--seed")
let first = single ?? value("--from") ?? 1
let count = single == nil ? value("--seeds") ?? 500 : 1
var options = Simulation.Options()
if let customers = value("--customers") { options.customers = Int(customers) }

let started = ContinuousClock.now
var failed: [UInt64] = []
var attempts = 0
var reports = 0
var states: [String: Int] = [:]
var payLater: [String: Int] = [:]
var claims: [String: Int] = [:]
var lostWebhooks = 0
for seed in first..<(first + count) {
    let report = Simulation(seed: seed, options: options).run()
    attempts += report.attempts
    reports += report.reportsApplied
    for (state, count) in report.finalStates { states[state, default: 0] += count }
    for (state, count) in report.payLaterStates { payLater[state, default: 0] += count }
    for (kind, count) in report.claimsAnswered { claims[kind, default: 0] += count }
    lostWebhooks += report.lostWebhooks
    guard !report.passed else { continue }
    failed.append(seed)
    print("seed \(seed) FAILED:")
    for violation in report.violations { print("  \(violation)") }
    print("  reproduce: make simulate SEED=\(seed)")
    print("  trace (last \(min(report.trace.count, single == nil ? 40 : 400)) lines):")
    for line in report.trace.suffix(single == nil ? 40 : 400) { print("    \(line)") }
    if failed.count >= 3 && single == nil { break }
}
let elapsed = ContinuousClock.now - started
let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
let ran = failed.isEmpty ? count : (failed.last! - first + 1)
print(
    "simulated \(ran) seeds (\(first)…\(first + ran - 1)): \(ran - UInt64(failed.count)) passed, \(failed.count) failed; "
        + "\(attempts) attempts (\(states.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))); "
        + "\(reports) order reports applied, each twice (I7)")
func listed(_ counts: [String: Int]) -> String {
    counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
}
print(
    "pay later: \(payLater.values.reduce(0, +)) attempts (\(listed(payLater))); \(claims.values.reduce(0, +)) claims (\(listed(claims))); "
        + "\(lostWebhooks) order.paid webhooks lost")
print("\(String(format: "%.1f", Double(ran) / max(seconds, 0.001))) seeds/s over \(String(format: "%.1f", seconds)) s")
if !failed.isEmpty { exit(1) }
