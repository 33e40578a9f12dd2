/// RouterOS time intervals as products store them: `30m`, `1h`, `1d2h`, `1w`, or `hh:mm:ss`.
public enum RouterOSInterval {
    public static func isValid(_ text: String) -> Bool {
        guard !text.isEmpty, text.count <= 32 else { return false }
        let clock = text.split(separator: ":", omittingEmptySubsequences: false)
        if clock.count == 3 {
            return clock.allSatisfy { (1...3).contains($0.count) && $0.allSatisfy { $0.isASCII && $0.isNumber } }
        }
        var digits = ""
        var sawUnit = false
        for character in text {
            if character.isASCII, character.isNumber {
                digits.append(character)
            } else if "wdhms".contains(character), !digits.isEmpty {
                digits = ""
                sawUnit = true
            } else {
                return false
            }
        }
        return sawUnit && digits.isEmpty
    }
}
