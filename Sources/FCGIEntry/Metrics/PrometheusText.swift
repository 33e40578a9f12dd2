/// Writes the Prometheus text exposition format, version 0.0.4: each family's `# HELP` and
/// `# TYPE` lines, then its samples, one per line.
/// https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format
struct PrometheusText {
    static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    private(set) var output = ""

    mutating func family(_ name: String, type: MetricFamily.Kind, help: String) {
        output += "# HELP \(name) \(Self.escapeHelp(help))\n# TYPE \(name) \(type.rawValue)\n"
    }

    /// One sample line. `labels` is rendered already (`Self.labels`), or empty.
    mutating func sample(_ name: String, labels: String = "", _ value: String) {
        output += name
        if !labels.isEmpty { output += "{\(labels)}" }
        output += " \(value)\n"
    }

    /// One histogram series: cumulative `_bucket` lines ending with `le="+Inf"`, then `_sum` and
    /// `_count` (equal to the `+Inf` bucket).
    /// - Parameter counts: observations per bucket, not cumulative: one per bound, then the
    ///   observations above the last bound.
    mutating func histogram(_ name: String, labels: String, bounds: [Double], counts: [UInt64], sum: Double) {
        precondition(counts.count == bounds.count + 1, "a histogram has one count per bound plus the overflow")
        let prefix = labels.isEmpty ? "" : labels + ","
        var cumulative: UInt64 = 0
        for (bound, count) in zip(bounds, counts) {
            cumulative += count
            sample(name + "_bucket", labels: prefix + "le=\"\(Self.number(bound))\"", String(cumulative))
        }
        cumulative += counts[bounds.count]
        sample(name + "_bucket", labels: prefix + "le=\"+Inf\"", String(cumulative))
        sample(name + "_sum", labels: labels, Self.number(sum))
        sample(name + "_count", labels: labels, String(cumulative))
    }

    /// `name="value",…` with the values escaped.
    static func labels(_ names: [String], _ values: [String]) -> String {
        zip(names, values).map { "\($0)=\"\(escapeLabelValue($1))\"" }.joined(separator: ",")
    }

    /// A label value escapes backslash, double quote and line feed.
    static func escapeLabelValue(_ value: String) -> String {
        escape(value, quotes: true)
    }

    /// Help text escapes backslash and line feed; quotes stay as they are.
    static func escapeHelp(_ text: String) -> String {
        escape(text, quotes: false)
    }

    /// A sample value as Prometheus reads it: `+Inf`, `-Inf`, `NaN`, or the shortest decimal that
    /// reads back as the same double.
    static func number(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value < 0 ? "-Inf" : "+Inf" }
        return value.description
    }

    private static func escape(_ text: String, quotes: Bool) -> String {
        guard text.utf8.contains(where: { $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "\n") || (quotes && $0 == UInt8(ascii: "\"")) })
        else { return text }
        var escaped = ""
        // Unicode scalars, not Characters: "\r\n" is one Character and would hide its line feed.
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": escaped += "\\\\"
            case "\n": escaped += "\\n"
            case "\"" where quotes: escaped += "\\\""
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }
}
