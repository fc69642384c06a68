public enum Reconciler {}
