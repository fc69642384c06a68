import IntegrationsAPI

/// The templates the emulator serves: AuthorizeNet and QuickBooks exactly as the API reference shows them,
/// WorldPay as the API reference describes them, and one sample provider for every other type.
///
/// Field types use the emulator's own numbering (1 String, 2 Number, 3 Boolean, 4 Url, 5 Select), of which
/// only 3 is documented.
public enum TemplateCatalog {
    public static let callbackBase = "https://api.achievemomentum.com/api/integrations"

    public static let standard: [IntegrationTemplate] = [
        IntegrationTemplate(
            type: .payment, provider: "AuthorizeNet", displayName: "Authorize.Net",
            description: "Accept credit card payments through Authorize.Net payment gateway",
            documentationUrl: "https://developer.authorize.net/", supportedFeatures: ["payments", "refunds"],
            configurationFields: [
                ConfigurationField(
                    key: "IsSandbox", displayName: "Sandbox Mode", description: "Enable sandbox/test mode",
                    type: .boolean, required: true, defaultValue: "true")
            ],
            secretFields: [
                SecretField(
                    key: "ApiLoginId", displayName: "API Login ID", description: "Your Authorize.Net API Login ID",
                    isSecret: true),
                SecretField(
                    key: "TransactionKey", displayName: "Transaction Key",
                    description: "Your Authorize.Net Transaction Key", isSecret: true),
            ]),
        IntegrationTemplate(
            type: .payment, provider: "WorldPay", displayName: "Worldpay (Vantiv Express)",
            description: "Card-present and card-not-present payments through Worldpay Express",
            documentationUrl: "https://developer.worldpay.com/", supportedFeatures: ["payments", "refunds", "voids"],
            configurationFields: [
                ConfigurationField(
                    key: "IsSandbox", displayName: "Test Mode", description: "Use the Worldpay certification host",
                    type: .boolean, required: true, defaultValue: "true"),
                ConfigurationField(
                    key: "MarketCode", displayName: "Market Code", description: "Transaction market code",
                    type: .select, required: false, defaultValue: "ECommerce", options: ["ECommerce", "Retail", "MOTO"]),
            ],
            secretFields: [
                SecretField(key: "AccountId", displayName: "Account ID", isSecret: true),
                SecretField(key: "AccountToken", displayName: "Account Token", isSecret: true),
                SecretField(key: "AcceptorId", displayName: "Acceptor ID", isSecret: true),
                SecretField(key: "TerminalId", displayName: "Terminal ID", required: false, isSecret: true),
            ]),
        IntegrationTemplate(
            type: .accounting, provider: "QuickBooks", displayName: "QuickBooks Online",
            description: "Sync customer and product data with QuickBooks Online", requiresOAuth: true,
            callbackUrl: "\(callbackBase)/QuickBooks/callback"),
        IntegrationTemplate(
            type: .shipping, provider: "ShipStation", displayName: "ShipStation",
            description: "Create labels and track shipments through ShipStation",
            documentationUrl: "https://www.shipstation.com/docs/api/", supportedFeatures: ["labels", "tracking"],
            configurationFields: [
                ConfigurationField(
                    key: "DefaultCarrier", displayName: "Default Carrier", type: .select, required: false,
                    defaultValue: "ups", options: ["ups", "fedex", "usps", "dhl"]),
                ConfigurationField(
                    key: "WebhookUrl", displayName: "Webhook URL", description: "Where shipment events are sent",
                    type: .url, required: false),
            ],
            secretFields: [
                SecretField(key: "ApiKey", displayName: "API Key", isSecret: true),
                SecretField(key: "ApiSecret", displayName: "API Secret", isSecret: true),
            ]),
        IntegrationTemplate(
            type: .email, provider: "SendGrid", displayName: "SendGrid",
            description: "Send transactional email through SendGrid", documentationUrl: "https://docs.sendgrid.com/",
            supportedFeatures: ["transactional", "templates"],
            configurationFields: [
                ConfigurationField(key: "FromAddress", displayName: "From Address", type: .string, required: true),
                ConfigurationField(key: "FromName", displayName: "From Name", type: .string, required: false),
                ConfigurationField(
                    key: "TimeoutSeconds", displayName: "Timeout (seconds)", type: .number, required: false,
                    defaultValue: "30"),
            ], secretFields: [SecretField(key: "ApiKey", displayName: "API Key", isSecret: true)]),
        IntegrationTemplate(
            type: .sms, provider: "Twilio", displayName: "Twilio", description: "Send text messages through Twilio",
            documentationUrl: "https://www.twilio.com/docs/sms", supportedFeatures: ["sms", "mms"],
            configurationFields: [
                ConfigurationField(key: "FromNumber", displayName: "From Number", type: .string, required: true),
                ConfigurationField(
                    key: "Environment", displayName: "Environment", type: .select, required: true,
                    defaultValue: "production", options: ["sandbox", "production"]),
            ],
            secretFields: [
                SecretField(key: "AccountSid", displayName: "Account SID", isSecret: true),
                SecretField(key: "AuthToken", displayName: "Auth Token", isSecret: true),
            ]),
        IntegrationTemplate(
            type: .analytics, provider: "GoogleAnalytics", displayName: "Google Analytics 4",
            description: "Send commerce events to Google Analytics 4",
            documentationUrl: "https://developers.google.com/analytics", supportedFeatures: ["events"],
            configurationFields: [
                ConfigurationField(key: "MeasurementId", displayName: "Measurement ID", type: .string, required: true)
            ],
            secretFields: [
                SecretField(key: "ApiSecret", displayName: "Measurement Protocol API Secret", isSecret: true)
            ]),
        IntegrationTemplate(
            type: .crm, provider: "HubSpot", displayName: "HubSpot",
            description: "Sync customers and orders to HubSpot CRM",
            documentationUrl: "https://developers.hubspot.com/", supportedFeatures: ["contacts", "deals"],
            configurationFields: [
                ConfigurationField(
                    key: "SyncIntervalMinutes", displayName: "Sync Interval (minutes)", type: .number, required: false,
                    defaultValue: "15")
            ], secretFields: [SecretField(key: "AccessToken", displayName: "Private App Access Token", isSecret: true)]),
        IntegrationTemplate(
            type: .inventory, provider: "Cin7", displayName: "Cin7 Core",
            description: "Keep stock levels in step with Cin7 Core",
            documentationUrl: "https://dearinventory.docs.apiary.io/", supportedFeatures: ["stock", "products"],
            configurationFields: [
                ConfigurationField(key: "AccountId", displayName: "Account ID", type: .string, required: true)
            ], secretFields: [SecretField(key: "ApplicationKey", displayName: "Application Key", isSecret: true)]),
    ]
}
