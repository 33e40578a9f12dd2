import ArgumentParser

HotspotCtl.main()
