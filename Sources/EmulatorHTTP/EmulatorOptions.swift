import Emulator
import Foundation

/// The command line of `integrations-emulator`.
public struct EmulatorOptions: Sendable, Equatable {
    public var host = "127.0.0.1"
    public var port: UInt16 = 0
    public var credentials: [EmulatorCredential] = []
    public var dataFile: String?
    public var faults = EmulatorFaults()

    public static let usage = """
        usage: integrations-emulator [--listen HOST:PORT] --org ORG=TOKEN [--org ORG=TOKEN:viewer ...] [--data FILE]
                                     [--latency 20ms] [--jitter 5ms] [--fault-rate 0.05] [--throttle-rate 0.05]
                                     [--retry-after 1s] [--rate-limit 100] [--rate-limit-schedule 0s=40,5s=15]
                                     [--drop-rate 0.02] [--echo-writes] [--seed 42]
        Serves the Nymble Integrations API emulator over HTTP/1.1 and prints `listening on http://HOST:PORT`.
        A token ending in :viewer lacks the Admin role (every call answers 403).
        --echo-writes answers every write 400 with the request (headers and body, plain and encoded) in its detail.
        --rate-limit-schedule changes the rate limit at times since the first request: TIME=RATE, comma-separated.
        """

    public struct Failure: Error, CustomStringConvertible, Sendable { public var description: String }

    public init() {}

    public static func parse(_ arguments: [String]) throws(Failure) -> EmulatorOptions {
        var options = EmulatorOptions()
        var index = 0
        func value(_ flag: String) throws(Failure) -> String {
            index += 1
            guard index < arguments.count else { throw Failure(description: "\(flag) needs a value") }
            return arguments[index]
        }
        func rate(_ flag: String) throws(Failure) -> Double {
            let text = try value(flag)
            guard let number = Double(text), (0...1).contains(number) else {
                throw Failure(description: "\(flag) takes a share between 0 and 1, not '\(text)'")
            }
            return number
        }
        while index < arguments.count {
            var argument = arguments[index]
            // --flag=value is the same as --flag value.
            if argument.hasPrefix("--"), let equals = argument.firstIndex(of: "=") {
                var rest = arguments
                rest[index] = String(argument[..<equals])
                rest.insert(String(argument[argument.index(after: equals)...]), at: index + 1)
                return try parse(rest)
            }
            switch argument {
            case "--listen":
                let text = try value(argument)
                guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) else {
                    throw Failure(description: "--listen takes HOST:PORT, e.g. 127.0.0.1:0")
                }
                options.host = String(text[..<colon])
                options.port = port
            case "--org":
                let text = try value(argument)
                guard let equals = text.firstIndex(of: "="), equals != text.startIndex else {
                    throw Failure(description: "--org takes ORG=TOKEN")
                }
                var token = String(text[text.index(after: equals)...])
                var isAdmin = true
                if token.hasSuffix(":viewer") {
                    token.removeLast(":viewer".count)
                    isAdmin = false
                }
                guard !token.isEmpty else { throw Failure(description: "--org \(text[..<equals]) has an empty token") }
                options.credentials.append(
                    EmulatorCredential(token: token, organizationId: String(text[..<equals]), isAdmin: isAdmin))
            case "--data": options.dataFile = try value(argument)
            case "--latency": options.faults.latency = try duration(argument, value(argument))
            case "--jitter": options.faults.jitter = try duration(argument, value(argument))
            case "--retry-after":
                let seconds = try Self.seconds(of: duration(argument, value(argument)))
                options.faults.retryAfterSeconds = Int(seconds.rounded(.up))
            case "--fault-rate": options.faults.faultRate = try rate(argument)
            case "--throttle-rate": options.faults.throttleRate = try rate(argument)
            case "--drop-rate": options.faults.dropRate = try rate(argument)
            case "--rate-limit":
                let text = try value(argument)
                guard let number = Double(text), number > 0 else {
                    throw Failure(description: "--rate-limit takes requests per second, not '\(text)'")
                }
                options.faults.rateLimit = number
            case "--rate-limit-schedule":
                let text = try value(argument)
                var steps: [RateLimitStep] = []
                for item in text.split(separator: ",", omittingEmptySubsequences: false) {
                    let parts = item.split(separator: "=", omittingEmptySubsequences: false)
                    guard parts.count == 2, let rate = Double(parts[1]), rate > 0 else {
                        throw Failure(
                            description:
                                "--rate-limit-schedule takes TIME=RATE steps such as 0s=40,5s=15, not '\(item)'")
                    }
                    steps.append(
                        RateLimitStep(after: try duration(argument, String(parts[0])), requestsPerSecond: rate))
                }
                options.faults.rateLimitSchedule = steps
            case "--echo-writes": options.faults.echoWrites = true
            case "--seed":
                let text = try value(argument)
                guard let seed = UInt64(text) else { throw Failure(description: "--seed takes a whole number") }
                options.faults.seed = seed
            default:
                argument = argument.isEmpty ? "''" : argument
                throw Failure(description: "unknown argument \(argument)")
            }
            index += 1
        }
        guard !options.credentials.isEmpty else {
            throw Failure(description: "at least one --org ORG=TOKEN is required")
        }
        return options
    }

    /// `250ms`, `1.5s`, `2m` or a bare number of seconds.
    static func duration(_ flag: String, _ text: String) throws(Failure) -> Duration {
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            if let number = Double(text.dropLast(suffix.count)), number >= 0 { return .seconds(number * scale) }
        }
        if let number = Double(text), number >= 0 { return .seconds(number) }
        throw Failure(description: "\(flag) takes a duration such as 20ms or 1s, not '\(text)'")
    }

    static func seconds(of duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
