print("integrations-emulator: not built yet")
