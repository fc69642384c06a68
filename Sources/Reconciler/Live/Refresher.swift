import ConcurrencyToolkit
import IntegrationsAPI

/// How much a refresh fetches.
public enum RefreshMode: String, Sendable, CaseIterable {
    /// One list per organization; a detail GET only where the configuration cannot be proven unchanged.
    case auto
    /// A detail GET of every live integration.
    case full
}

/// An integration as a list names it.
private struct LiveReference: Hashable, Sendable {
    var organization: String
    var id: String
}

/// One detail read: the integration, nothing for a 404, or why it could not be read.
private struct FetchedDetail: Sendable {
    var organization: String
    var id: String
    var detail: IntegrationDetail?
    var failure: APIError? = nil
}

/// The live side with as few requests as the job allows.
struct Refresher: Sendable {
    let client: IntegrationsClient
    let templates: TemplateValidator

    /// - Parameter targets: when not empty, only what these entry names need is read: the lists of the
    ///   organizations that declare or manage one, and the details of their integrations and adoption candidates.
    ///   The other organizations are left out of the snapshot.
    func refresh(
        organizations allOrganizations: [String], desired allDesired: [DesiredIntegration], state: IntopsState,
        mode: RefreshMode, targets: Set<String> = []
    ) async -> LiveSnapshot {
        let client = self.client
        let limit = client.policy.maxInFlight
        func inScope(_ name: String) -> Bool { targets.isEmpty || targets.contains(name) }
        // Without targets the desired list is used as it is: a filtered copy of 100,000 entries is tens of megabytes.
        let desired = targets.isEmpty ? allDesired : allDesired.filter { inScope($0.key.name) }
        let organizations =
            targets.isEmpty
            ? allOrganizations
            : allOrganizations.filter { organization in
                desired.contains { $0.key.organization == organization }
                    || state.integrations.contains { $0.organization == organization && inScope($0.name) }
                    || (state.pendingCreates ?? []).contains { $0.organization == organization && inScope($0.name) }
            }
        // A full refresh reads every listed integration in detail. Those the state knows are asked for beside the
        // lists rather than a round of requests after them; one deleted out of band answers 404 and is dropped.
        let known =
            mode == .full
            ? state.integrations.filter { organizations.contains($0.organization) && inScope($0.name) }.map {
                LiveReference(organization: $0.organization, id: $0.integrationId)
            } : []
        async let early = Self.details(known, client: client, limit: limit)
        // Awaited on every path, never cancelled by leaving the scope: cancelling a task inside URLSession's
        // data(for:) can deadlock swift-corelibs-foundation. An organization that cannot be listed is reported
        // and left out; the others are planned.
        let listed = await boundedMap(organizations, limit: limit) {
            (organization: String) async -> (OrganizationList, APIError?) in
            do throws(APIError) {
                return (
                    OrganizationList(
                        organization: organization, summaries: try await client.list(organization: organization)), nil
                )
            } catch { return (OrganizationList(organization: organization, summaries: nil), error) }
        }
        let fetchedEarly = await early
        var snapshot = LiveSnapshot(organizations: [:])
        for case (let list, let failure?) in listed { snapshot.unreachable[list.organization] = failure }
        let lists = listed.filter { $0.1 == nil }.map(\.0)
        var fetch: [LiveReference] = []
        // Positions, not copies: the desired entries are large and the lookups many. The indexes are built per
        // organization, and only for one that has integrations to match.
        var positions: [String: [Int]] = [:]
        for index in desired.indices { positions[desired[index].key.organization, default: []].append(index) }
        let entries = Dictionary(
            state.integrations.indices.map {
                (
                    LiveReference(
                        organization: state.integrations[$0].organization, id: state.integrations[$0].integrationId), $0
                )
            }, uniquingKeysWith: { first, _ in first })
        for list in lists {
            let organization = list.organization
            let summaries = list.summaries ?? []
            var integrations: [LiveIntegration] = []
            var byName: [String: Int] = [:]
            var adoptable = Set<LiveIdentity>()
            if !summaries.isEmpty {
                let own = positions[organization] ?? []
                byName.reserveCapacity(own.count)
                for index in own {
                    byName[desired[index].key.name] = index
                    if !desired[index].isTombstone, let identity = desired[index].identity {
                        adoptable.insert(identity)
                    }
                }
            }
            for summary in summaries {
                var live = LiveIntegration(summary: summary, configuration: nil, configurationFetched: false)
                let entry = entries[LiveReference(organization: organization, id: summary.integrationId)].map {
                    state.integrations[$0]
                }
                let wanted = entry.flatMap { byName[$0.name] }.map { desired[$0] }
                var proven = false
                if mode == .auto, let entry, let wanted, !wanted.isTombstone, let updatedAt = summary.updatedAt,
                    updatedAt == entry.updatedAt, entry.configurationDigest == effectiveDigest(wanted)
                {
                    // Unchanged since the last apply, and the manifest asks for what was applied then.
                    live.configuration = templates.effectiveConfiguration(wanted)
                    proven = true
                }
                let adoptionCandidate = entry == nil && adoptable.contains(LiveIdentity(summary))
                let targeted = targets.isEmpty || entry.map { inScope($0.name) } ?? false
                let needed =
                    (targeted && (mode == .full || (!proven && (wanted.map { !$0.isTombstone } ?? false))))
                    || adoptionCandidate
                if needed { fetch.append(LiveReference(organization: organization, id: summary.integrationId)) }
                integrations.append(live)
            }
            snapshot.organizations[organization] = integrations
        }
        let asked = Set(known)
        let details =
            fetchedEarly + (await Self.details(fetch.filter { !asked.contains($0) }, client: client, limit: limit))
        for (organization, fetched) in Dictionary(grouping: details, by: \.organization) {
            guard var list = snapshot.organizations[organization] else { continue }
            let positions = Dictionary(list.indices.map { (list[$0].id, $0) }, uniquingKeysWith: { first, _ in first })
            for read in fetched {
                guard let index = positions[read.id] else { continue }
                if let detail = read.detail {
                    list[index].configuration = detail.configuration
                    list[index].configurationFetched = true
                } else if let failure = read.failure {
                    list[index].unreadable = failure
                }
            }
            snapshot.organizations[organization] = list
        }
        return snapshot
    }

    /// The details of these integrations: nothing for one that answers 404 (deleted since it was listed), the
    /// failure for one that cannot be read.
    private static func details(
        _ references: [LiveReference], client: IntegrationsClient, limit: Int
    ) async -> [FetchedDetail] {
        await boundedMap(references, limit: limit) { (reference: LiveReference) async -> FetchedDetail in
            do throws(APIError) {
                return FetchedDetail(
                    organization: reference.organization, id: reference.id,
                    detail: try await client.get(organization: reference.organization, id: reference.id))
            } catch {
                return FetchedDetail(
                    organization: reference.organization, id: reference.id, detail: nil,
                    failure: error.status == 404 ? nil : error)
            }
        }
    }

    func effectiveDigest(_ desired: DesiredIntegration) -> String {
        IntopsState.configurationDigest(templates.effectiveConfiguration(desired))
    }
}
