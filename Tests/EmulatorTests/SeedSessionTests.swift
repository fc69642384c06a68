import ConcurrencyToolkit
import Foundation
import TestSupport
import Testing

/// The reference's curl examples, replayed with `curl` against the `integrations-emulator` binary
/// (SeedSession/seed-session.sh); every answer has the fields and shapes of the reference's examples.
@Suite struct SeedSessionTests {
    /// Examples copied verbatim from the Integrations API reference.
    static let templatesExample = #"""
        {
          "templates": [
            {
              "type": 1,
              "provider": "AuthorizeNet",
              "displayName": "Authorize.Net",
              "description": "Accept credit card payments through Authorize.Net payment gateway",
              "requiresOAuth": false,
              "documentationUrl": "https://developer.authorize.net/",
              "supportedFeatures": ["payments", "refunds"],
              "configurationFields": [
                {
                  "key": "IsSandbox",
                  "displayName": "Sandbox Mode",
                  "description": "Enable sandbox/test mode",
                  "type": 3,
                  "required": true,
                  "defaultValue": "true"
                }
              ],
              "secretFields": [
                {
                  "key": "ApiLoginId",
                  "displayName": "API Login ID",
                  "description": "Your Authorize.Net API Login ID",
                  "required": true,
                  "isSensitive": true
                },
                {
                  "key": "TransactionKey",
                  "displayName": "Transaction Key",
                  "description": "Your Authorize.Net Transaction Key",
                  "required": true,
                  "isSensitive": true
                }
              ]
            },
            {
              "type": 2,
              "provider": "QuickBooks",
              "displayName": "QuickBooks Online",
              "description": "Sync customer and product data with QuickBooks Online",
              "requiresOAuth": true,
              "callbackUrl": "https://api.achievemomentum.com/api/integrations/QuickBooks/callback",
              "configurationFields": [],
              "secretFields": []
            }
          ]
        }
        """#
    static let createExample = #"""
        {
          "integrationId": "int_123456789",
          "organizationId": "org123",
          "integrationType": 1,
          "provider": "AuthorizeNet",
          "displayName": "Main Payment Gateway",
          "isEnabled": true,
          "createdAt": "2024-01-15T10:30:00Z"
        }
        """#
    static let testExample = #"""
        {
          "integrationId": "int_123456789",
          "isSuccessful": true,
          "message": "Connection test successful",
          "testedAt": "2024-01-15T14:22:00Z"
        }
        """#
    static let rotateExample = #"""
        {
          "integrationId": "int_123456789",
          "organizationId": "org123",
          "rotationSuccessful": true,
          "testConnectionSuccessful": true,
          "message": "Secrets rotated successfully and connection test passed",
          "rotatedAt": "2024-01-15T15:00:00Z",
          "rotatedSecretKeys": ["ApiLoginId", "TransactionKey"]
        }
        """#

    /// The shape of a JSON value: object keys with their shapes, the shape of an array's first element, or a
    /// scalar's type.
    static func shape(_ value: Any) -> String {
        switch value {
        case let object as [String: Any]:
            return "{" + object.keys.sorted().map { "\($0):\(shape(object[$0]!))" }.joined(separator: ",") + "}"
        case let array as [Any]: return "[" + (array.first.map(shape) ?? "") + "]"
        case let number as NSNumber: return String(cString: number.objCType) == "c" ? "bool" : "number"
        case is String: return "string"
        default: return "null"
        }
    }

    static func canonical(_ value: Any) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys]), as: UTF8.self)
    }

    static func json(_ text: String) throws -> Any { try JSONSerialization.jsonObject(with: Data(text.utf8)) }

    /// `value` without the keys the emulator adds beyond the reference (the emulator's own choices where the reference is silent).
    static func strip(_ value: Any, extras: Set<String>) -> Any {
        switch value {
        case let object as [String: Any]:
            return object.filter { !extras.contains($0.key) }.mapValues { strip($0, extras: extras) }
        case let array as [Any]: return array.map { strip($0, extras: extras) }
        default: return value
        }
    }

    @Test func curlSessionReproducesTheReferenceExamples() async throws {
        let emulator = try await EmulatorProcess.start(["--org", "org123=your_token"])
        defer { emulator.stop() }
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("seed-session-\(UUID().uuidString)")
        let script = Executables.packageRoot.appendingPathComponent("Tests/EmulatorTests/SeedSession/seed-session.sh")
        let process = SpawnedProcess()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [script.path, emulator.baseURL.absoluteString, "your_token", out.path]
        try process.run()
        let deadline = ContinuousClock.now + .seconds(60)
        while process.isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(process.terminationStatus == 0, "seed-session.sh failed")

        func answer(_ step: String) throws -> (status: String, body: String) {
            let status = try String(contentsOf: out.appendingPathComponent("\(step).status"), encoding: .utf8)
            let body = try String(contentsOf: out.appendingPathComponent("\(step).json"), encoding: .utf8)
            return (status, body)
        }

        // Templates: AuthorizeNet and QuickBooks exactly as the reference prints them.
        let templates = try answer("01-templates")
        #expect(templates.status == "200")
        let live = try #require(try Self.json(templates.body) as? [String: [[String: Any]]])
        let example = try #require(try Self.json(Self.templatesExample) as? [String: [[String: Any]]])
        for documented in example["templates"]! {
            let provider = documented["provider"] as! String
            let served = try #require(
                live["templates"]?.first { $0["provider"] as? String == provider }, "\(provider) is served")
            let stripped = Self.strip(served, extras: ["isSecret"])
            #expect(
                try Self.canonical(stripped) == Self.canonical(documented), "\(provider) differs from the reference")
        }
        let byType = try answer("02-templates-by-type")
        #expect(byType.status == "200")
        let payments = try #require(try Self.json(byType.body) as? [String: [[String: Any]]])
        #expect(payments["templates"]!.allSatisfy { $0["type"] as? Int == 1 } && !payments["templates"]!.isEmpty)

        let available = try answer("03-available")
        #expect(available.status == "200")
        let availableKeys = Set((try Self.json(available.body) as! [String: Any]).keys)
        #expect(
            availableKeys == [
                "organizationId", "totalAvailable", "configuredCount", "enabledCount", "integrationsByType",
            ])

        // Examples with a response body: the same fields with the same types.
        for (step, status, documented) in [
            ("04-create", "201", Self.createExample), ("08-test", "200", Self.testExample),
            ("11-rotate-secrets", "200", Self.rotateExample),
        ] {
            let served = try answer(step)
            #expect(served.status == status, "\(step)")
            #expect(
                Self.shape(try Self.json(served.body)) == Self.shape(try Self.json(documented)),
                "\(step) has the reference's shape")
        }
        let created = try #require(try Self.json(answer("04-create").body) as? [String: Any])
        #expect(
            created["provider"] as? String == "AuthorizeNet"
                && created["displayName"] as? String == "Main Payment Gateway")
        let tested = try #require(try Self.json(answer("08-test").body) as? [String: Any])
        #expect(tested["isSuccessful"] as? Bool == true && tested["message"] as? String == "Connection test successful")
        let rotated = try #require(try Self.json(answer("11-rotate-secrets").body) as? [String: Any])
        #expect(rotated["message"] as? String == "Secrets rotated successfully and connection test passed")
        #expect(rotated["rotatedSecretKeys"] as? [String] == ["ApiLoginId", "TransactionKey"])

        // Endpoints documented by their field lists.
        let list = try answer("05-list")
        #expect(list.status == "200")
        let summaries = try #require((try Self.json(list.body) as? [String: Any])?["integrations"] as? [[String: Any]])
        #expect(summaries.count == 1)
        #expect(
            Set(summaries[0].keys).isSuperset(of: [
                "integrationId", "organizationId", "integrationType", "provider", "displayName", "isEnabled",
                "createdAt",
            ]))
        #expect(!list.body.contains("your-transaction-key"), "secrets are omitted")
        let detail = try answer("06-get")
        #expect(detail.status == "200")
        let detailKeys = Set((try Self.json(detail.body) as! [String: Any]).keys)
        #expect(
            detailKeys.isSuperset(of: [
                "integrationId", "organizationId", "integrationType", "provider", "displayName", "isEnabled",
                "createdAt", "updatedAt", "configuration", "createdBy", "availableFields",
            ]))
        let fields = (try Self.json(detail.body) as! [String: Any])["availableFields"] as! [String: Any]
        #expect(
            Set(fields.keys).isSuperset(of: [
                "configurationFields", "secretFields", "requiresOAuth", "documentationUrl", "supportedFeatures",
            ]))
        #expect(!detail.body.contains("your-api-login-id"), "secrets are never returned")
        let update = try answer("07-update")
        let updateShape = Self.shape(try Self.json(update.body))
        #expect(update.status == "200" && updateShape == "{testConnectionRequired:bool}")
        #expect(
            (try Self.json(update.body) as! [String: Any])["testConnectionRequired"] as? Bool == true,
            "IsSandbox changed")
        let connect = try answer("10-connect")
        let connectShape = Self.shape(try Self.json(connect.body))
        #expect(connect.status == "200" && connectShape == "{authorizationUrl:string}")
        let delete = try answer("12-delete")
        #expect(delete.status == "204" && delete.body.isEmpty)
    }
}
