public enum IntegrationsAPI {}
