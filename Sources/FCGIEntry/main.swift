import ArgumentParser

HotspotPayCommand.main()
