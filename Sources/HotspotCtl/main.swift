import ArgumentParser

HotspotCtl.main(GlobalOptions.movedAfterSubcommand(Array(CommandLine.arguments.dropFirst())))
