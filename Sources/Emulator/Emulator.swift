public enum Emulator {}
