import ArgumentParser
import Testing

@testable import HotspotCtl

@Suite struct GlobalOptionsTests {
    @Test func globalOptionsBeforeTheSubcommandMoveAfterIt() {
        #expect(
            GlobalOptions.movedAfterSubcommand(["--env-file", "/etc/h.env", "payments", "list", "--state", "paid"])
                == ["payments", "list", "--state", "paid", "--env-file", "/etc/h.env"])
        #expect(
            GlobalOptions.movedAfterSubcommand(["--json", "--env-file=/e", "migrate"]) == ["migrate", "--json", "--env-file=/e"])
        #expect(
            GlobalOptions.movedAfterSubcommand(["--env-file", "f", "payments", "show", "--", "-x"])
                == ["payments", "show", "--env-file", "f", "--", "-x"])
    }

    @Test func argumentsWithoutLeadingGlobalsStayAsTheyAre() {
        for arguments in [
            ["migrate", "--env-file", "f"], ["--help"], ["--env-file", "f"], ["--env-file"], ["--verbose", "migrate"], [],
        ] {
            #expect(GlobalOptions.movedAfterSubcommand(arguments) == arguments)
        }
    }

    @Test func theMovedArgumentsParseAsTheSubcommandWithItsGlobals() throws {
        let command = try HotspotCtl.parseAsRoot(
            GlobalOptions.movedAfterSubcommand(["--env-file", "/etc/h.env", "--json", "payments", "list", "--limit", "3"]))
        let list = try #require(command as? PaymentsCommand.List)
        #expect(list.global.envFile == "/etc/h.env" && list.global.json && list.limit == 3)
    }
}
