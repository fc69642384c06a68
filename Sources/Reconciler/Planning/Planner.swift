import IntegrationsAPI

/// Desired × live × state → plan. A pure function: no I/O, no clock but the one in the options.
public enum Planner {
    public static func plan(
        desired allDesired: [DesiredIntegration], live: LiveSnapshot, state: IntopsState, templates: TemplateValidator,
        organizations: [String], options: PlanOptions
    ) -> Plan {
        var builder = Builder(
            live: live, state: state, templates: templates, organizations: Set(organizations), options: options)
        for organization in organizations.sorted() {
            if let failure = live.unreachable[organization] {
                builder.errors.append(.organizationUnreachable(organization, reason: "\(failure)"))
            }
        }
        // An organization that could not be read is left out whole; the others are planned.
        let organizations = organizations.filter { live.unreachable[$0] == nil }
        // Filtered by position, not by copy: the desired entries are large, and there can be 100,000 of them.
        let inScope = allDesired.indices.filter { organizations.contains(allDesired[$0].manifest.organization) }
        let desired = inScope.filter {
            options.targets.isEmpty || options.targets.contains(allDesired[$0].manifest.name)
        }

        // State entries claim their integrations first, so adoption never takes one of them.
        for entry in state.integrations where organizations.contains(entry.organization) {
            builder.claimed.insert(entry.integrationId)
        }
        builder.actions.reserveCapacity(desired.count)
        for index in desired where allDesired[index].manifest.ensure == .present {
            builder.planPresent(allDesired[index])
        }
        for index in desired where allDesired[index].manifest.ensure == .absent {
            builder.planTombstone(allDesired[index])
        }
        // What is declared matters only to the state's entries and pending creates: without them, no set is built.
        let hasRecords = !state.integrations.isEmpty || !(state.pendingCreates ?? []).isEmpty
        let declared = hasRecords ? Set(inScope.map { allDesired[$0].key }) : []
        for entry in state.integrations
        where organizations.contains(entry.organization) && !declared.contains(entry.key) {
            if !options.targets.isEmpty && !options.targets.contains(entry.name) { continue }
            builder.planPrune(entry)
        }
        // Creates an interrupted apply sent for entries no longer declared: their integrations have no state entry.
        for pending in state.pendingCreates ?? []
        where organizations.contains(pending.organization) && !declared.contains(pending.key) {
            if !options.targets.isEmpty && !options.targets.contains(pending.name) { continue }
            builder.planOrphan(pending)
        }
        builder.checkSafety()
        return builder.finish()
    }

    /// Accumulates actions; ordering and collision handling happen in ``finish()``.
    struct Builder {
        let live: LiveSnapshot
        let state: IntopsState
        let templates: TemplateValidator
        let organizations: Set<String>
        let options: PlanOptions
        var claimed: Set<String> = []
        var actions: [PlannedAction] = []
        var errors: [PlanProblem] = []
        var warnings: [PlanWarning] = []

        init(
            live: LiveSnapshot, state: IntopsState, templates: TemplateValidator, organizations: Set<String>,
            options: PlanOptions
        ) {
            self.live = live
            self.state = state
            self.templates = templates
            self.organizations = organizations
            self.options = options
        }

        func template(_ desired: DesiredIntegration) -> IntegrationTemplate? {
            guard let type = desired.type, let provider = desired.provider else { return nil }
            return templates.template(type: type, provider: provider)
        }

        func effectiveConfiguration(_ desired: DesiredIntegration) -> [String: String] {
            templates.effectiveConfiguration(desired)
        }

        func describe(_ live: LiveIntegration) -> String {
            "\(live.id) (\(live.summary.provider) \"\(live.summary.displayName)\")"
        }

        // MARK: - Present entries

        mutating func planPresent(_ desired: DesiredIntegration) {
            let key = desired.key
            let organizationLive = live.organizations[key.organization] ?? []
            var matched: LiveIntegration?
            var adopted = false
            var reason: PlanReason?
            if let entry = state.entry(key), let replaced = entry.replaces,
                let original = organizationLive.first(where: { $0.id == replaced })
            {
                claimed.insert(replaced)
                if let replacement = organizationLive.first(where: { $0.id == entry.integrationId }) {
                    planUnfinishedReplace(desired, replacement: replacement, original: original)
                } else {
                    // The replacement is gone: the original is this entry's integration again.
                    planExisting(desired, current: original, adopted: true)
                }
                return
            }
            if let entry = state.entry(key) {
                matched = organizationLive.first { $0.id == entry.integrationId }
                if matched == nil { reason = .deletedOutOfBand(integrationId: entry.integrationId) }
            }
            // A replace killed after its create was sent and before the state recorded the replacement: the
            // journal names the replacement, which is finished rather than created a second time.
            if let original = matched, let pending = state.pendingCreates?.first(where: { $0.key == key }),
                pending.type != original.summary.integrationType || pending.provider != original.summary.provider,
                let replacement = organizationLive.first(where: {
                    !claimed.contains($0.id) && $0.id != original.id && pending.identity.matches($0.summary)
                })
            {
                claimed.insert(replacement.id)
                planUnfinishedReplace(desired, replacement: replacement, original: original)
                return
            }
            // No integration yet, or the recorded one is gone (deleted and perhaps re-created by hand under its
            // name): an unclaimed integration that is this entry is adopted rather than created beside.
            if matched == nil {
                // A create an interrupted apply sent for this entry is found by the name it was sent with, even if
                // the manifest renamed the entry since.
                func unclaimed(_ identity: LiveIdentity?) -> [LiveIntegration] {
                    guard let identity else { return [] }
                    return organizationLive.filter { !claimed.contains($0.id) && identity.matches($0.summary) }
                }
                let pending = state.pendingCreates?.first { $0.key == key }
                let byPending = unclaimed(pending.flatMap { desired.identity?.named($0.displayName) })
                let candidates = byPending.count == 1 ? byPending : unclaimed(desired.identity)
                if candidates.count > 1 {
                    errors.append(.ambiguousAdoption(key, candidates: candidates.map(describe)))
                    return
                }
                if let candidate = candidates.first {
                    matched = candidate
                    adopted = true
                    claimed.insert(candidate.id)
                }
            }
            guard let current = matched else {
                planCreate(desired, reason: reason)
                return
            }
            if let failure = current.unreadable {
                errors.append(.integrationUnreadable(key, integrationId: current.id, reason: "\(failure)"))
                return
            }
            planExisting(desired, current: current, adopted: adopted)
        }

        // One array each that every planned create shares, rather than two allocations per create.
        static let createOnly: [PlannedStep] = [.create(temporaryName: nil)]
        static let createAndTest: [PlannedStep] = [.create(temporaryName: nil), .test]

        mutating func planCreate(_ desired: DesiredIntegration, reason: PlanReason?) {
            let template = template(desired)
            let needsAuthorization = template?.requiresOAuth == true
            let tested = !needsAuthorization && desired.manifest.test != .never
            append(
                desired, action: .create, integrationId: nil,
                changes: PlannedChanges(creating: desired, tested: tested), reason: reason,
                notes: needsAuthorization ? [.authorizationNeeded(name: desired.key.name)] : [],
                steps: tested ? Self.createAndTest : Self.createOnly)
        }

        mutating func planExisting(_ desired: DesiredIntegration, current: LiveIntegration, adopted: Bool) {
            let key = desired.key
            let summary = current.summary
            let template = template(desired)
            let isOAuth = template?.requiresOAuth == true
            if summary.integrationType != desired.type || summary.provider != desired.provider {
                planReplace(
                    desired, current: current,
                    why: .typeOrProviderChanges(
                        from: "\(summary.integrationType.name)/\(summary.provider)",
                        to: "\(desired.type?.name ?? "?")/\(desired.provider ?? "?")"))
                return
            }

            var changes: [PlannedChange] = []
            var update = (displayName: String?.none, enabled: Bool?.none, configuration: [String: String]())
            if let displayName = desired.displayName, displayName != summary.displayName {
                changes.append(PlannedChange(field: .displayName, old: summary.displayName, new: displayName))
                update.displayName = displayName
            }
            if desired.enabled != summary.isEnabled {
                changes.append(
                    PlannedChange(field: .enabled, old: String(summary.isEnabled), new: String(desired.enabled)))
                update.enabled = desired.enabled
            }
            let wanted = effectiveConfiguration(desired)
            let have = current.configuration ?? wanted
            var unremovable: [String] = []
            for field in (template?.configurationFields ?? []).map(\.key) {
                let want = wanted[field]
                let had = have[field]
                if let want, want != had {
                    changes.append(PlannedChange(field: .configuration(field), old: had, new: want))
                    update.configuration[field] = want
                } else if want == nil, had != nil {
                    unremovable.append(field)
                }
            }
            if !unremovable.isEmpty {
                planReplace(desired, current: current, why: .configurationCannotBeRemoved(keys: unremovable))
                return
            }

            // Secrets: a changed or unknown keyed fingerprint means a rotation.
            let entry = adopted ? nil : state.entry(key)
            var rotate: [String] = []
            var unknown = false
            for secretKey in desired.fingerprints.keys {
                guard let recorded = entry?.secrets[secretKey]?.fingerprint else {
                    rotate.append(secretKey)
                    unknown = true
                    changes.append(
                        PlannedChange(field: .secret(secretKey), old: "(unknown)", new: "(sensitive)", sensitive: true))
                    continue
                }
                if desired.fingerprints[secretKey]?.matches(recorded) != true {
                    rotate.append(secretKey)
                    changes.append(
                        PlannedChange(
                            field: .secret(secretKey), old: "(sensitive)", new: "(sensitive, changed)", sensitive: true)
                    )
                }
            }

            var steps: [PlannedStep] = []
            let hasUpdate = update.displayName != nil || update.enabled != nil || !update.configuration.isEmpty
            if hasUpdate {
                steps.append(
                    .update(
                        displayName: update.displayName, enabled: update.enabled, configuration: update.configuration))
            }
            let authorized = summary.testStatus == .passed
            let testable = desired.manifest.test != .never && (!isOAuth || authorized)
            // A test is owed when the state says so, or when the API says a connection intops has tested before is
            // untested since its last change (the run that changed it was killed before its record of the owed
            // test was written).
            let testDue =
                entry?.testDue == true || (!adopted && entry?.lastTest != nil && summary.testStatus == .notTested)
            if !rotate.isEmpty {
                steps.append(.rotate(keys: rotate))
                if testable { changes.append(PlannedChange(field: .test, new: "connection test with the rotation")) }
            } else if hasUpdate && testable && desired.manifest.test == .onChange {
                steps.append(.test)
                changes.append(PlannedChange(field: .test, new: "connection test if the API asks for one"))
            }
            var notes: [PlanNote] = []
            if isOAuth && !authorized { notes.append(.authorizationNeeded(name: key.name)) }

            let kind: ActionKind
            var reason: PlanReason?
            if adopted {
                kind = .adopt
                reason = .adopts(integrationId: current.id, secretsUnknown: !rotate.isEmpty)
            } else if hasUpdate {
                kind = .update
            } else if !rotate.isEmpty {
                kind = .rotate
                if unknown { reason = .unknownFingerprints }
            } else if testable && (desired.manifest.test == .always || summary.testStatus == .failed || testDue) {
                kind = .test
                steps.append(.test)
                reason = desired.manifest.test == .always ? .testAlways : testDue ? .testDue : .lastTestFailed
                changes.append(PlannedChange(field: .test, old: summary.testStatus?.name, new: "connection test"))
            } else {
                // Nothing to change; an adoption-free match with a state entry whose id moved is recorded on apply.
                return
            }
            if kind == .test && rotate.isEmpty && !hasUpdate && steps.filter({ $0 == .test }).count > 1 {
                steps = [.test]
            }
            append(
                desired, action: kind, integrationId: current.id, changes: PlannedChanges(changes), reason: reason,
                notes: notes, steps: steps)
        }

        mutating func planReplace(_ desired: DesiredIntegration, current: LiveIntegration, why: PlanReason) {
            if desired.manifest.protect {
                errors.append(.replaceOfProtected(desired.key, why: why))
                return
            }
            guard options.allowReplace else {
                errors.append(.replaceNotAllowed(desired.key, why: why, replacedId: current.id))
                return
            }
            let finalName = desired.displayName ?? current.summary.displayName
            let sameName = finalName == current.summary.displayName
            var steps: [PlannedStep] = [
                .create(temporaryName: sameName ? Self.temporaryName(finalName, key: desired.key) : nil)
            ]
            let template = template(desired)
            if template?.requiresOAuth != true && desired.manifest.test != .never { steps.append(.test) }
            steps.append(.deleteReplaced(integrationId: current.id))
            if sameName { steps.append(.rename(to: finalName)) }
            var changes = [PlannedChange(field: .integration, old: current.id, new: "(new)")]
            changes.append(
                PlannedChange(
                    field: .provider, old: "\(current.summary.integrationType.name)/\(current.summary.provider)",
                    new: "\(desired.type?.name ?? "?")/\(desired.provider ?? "?")"))
            let notes: [PlanNote] = sameName ? [.createdUnderTemporaryName(replacedId: current.id)] : []
            append(
                desired, action: .replace, integrationId: current.id, changes: PlannedChanges(changes), reason: why,
                notes: notes, steps: steps)
        }

        /// A replace stopped between the create of its replacement and the delete of the original: the next plan
        /// runs its remaining steps, or, when the manifest now describes the original, deletes the replacement.
        mutating func planUnfinishedReplace(
            _ desired: DesiredIntegration, replacement: LiveIntegration, original: LiveIntegration
        ) {
            let wantsOriginal =
                original.summary.integrationType == desired.type && original.summary.provider == desired.provider
                && (replacement.summary.integrationType != desired.type
                    || replacement.summary.provider != desired.provider)
            if wantsOriginal {
                append(
                    desired, action: .replace, integrationId: original.id,
                    changes: [PlannedChange(field: .integration, old: replacement.id, new: original.id)],
                    reason: .undoesReplace(replacementId: replacement.id), notes: [],
                    steps: [.deleteReplaced(integrationId: replacement.id)])
                return
            }
            var steps: [PlannedStep] = []
            let testable = template(desired)?.requiresOAuth != true && desired.manifest.test != .never
            if testable && state.entry(desired.key)?.lastTest?.passed != true { steps.append(.test) }
            steps.append(.deleteReplaced(integrationId: original.id))
            let finalName = desired.displayName ?? original.summary.displayName
            if replacement.summary.displayName != finalName { steps.append(.rename(to: finalName)) }
            append(
                desired, action: .replace, integrationId: replacement.id,
                changes: [PlannedChange(field: .integration, old: original.id, new: replacement.id)],
                reason: .finishesReplace(replacedId: original.id), notes: [], steps: steps)
        }

        static func temporaryName(_ name: String, key: IntegrationKey) -> String { "\(name) (intops: \(key.name))" }

        // MARK: - Deletions

        mutating func planTombstone(_ desired: DesiredIntegration) {
            let key = desired.key
            let organizationLive = live.organizations[key.organization] ?? []
            var target: LiveIntegration?
            if let entry = state.entry(key) {
                target = organizationLive.first { $0.id == entry.integrationId }
            } else {
                let pattern = desired.displayName.map {
                    LiveIdentity.Pattern(type: desired.type, provider: desired.provider, displayName: $0)
                }
                let candidates = organizationLive.filter {
                    !claimed.contains($0.id) && pattern?.matches($0.summary) == true
                }
                if candidates.count > 1 {
                    errors.append(.ambiguousTombstone(key, candidates: candidates.map(describe)))
                    return
                }
                target = candidates.first
            }
            guard let target else { return }
            claimed.insert(target.id)
            if desired.manifest.protect {
                errors.append(.tombstoneOfProtected(key))
                return
            }
            planDelete(key, live: target, reason: .ensureAbsent)
        }

        mutating func planPrune(_ entry: IntopsState.Entry) {
            guard let target = live.integration(entry.organization, id: entry.integrationId) else { return }
            guard options.prune else {
                warnings.append(.unmanagedLeftover(entry.key))
                return
            }
            planDelete(entry.key, live: target, reason: .pruned)
        }

        mutating func planOrphan(_ pending: IntopsState.PendingCreate) {
            let candidates = (live.organizations[pending.organization] ?? []).filter {
                !claimed.contains($0.id) && pending.identity.matches($0.summary)
            }
            guard let target = candidates.first, candidates.count == 1 else { return }
            claimed.insert(target.id)
            guard options.prune else {
                warnings.append(.orphanLeftover(pending.key, integrationId: target.id))
                return
            }
            planDelete(pending.key, live: target, reason: .orphanedCreate)
        }

        mutating func planDelete(_ key: IntegrationKey, live target: LiveIntegration, reason: PlanReason) {
            var steps: [PlannedStep] = []
            if target.summary.isEnabled { steps.append(.disable) }
            steps.append(.delete)
            let changes = [PlannedChange(field: .displayName, old: target.summary.displayName, new: nil)]
            actions.append(
                PlannedAction(
                    organization: key.organization, name: key.name, action: .delete, integrationId: target.id,
                    type: target.summary.integrationType, provider: target.summary.provider,
                    displayName: target.summary.displayName, changes: PlannedChanges(changes), reason: reason,
                    notes: target.summary.isEnabled ? [.disabledFirst] : [], steps: steps, preSteps: [], dependsOn: []))
        }

        /// Prunes (deletions the manifests do not name) are held to `safety`: at most `maxDeletes` in the plan, and
        /// at most `maxDeletePercent` of an organization's managed integrations, a share counted only from ten
        /// managed (one of three is not a mass deletion). Tombstones name what they delete and are not counted.
        mutating func checkSafety() {
            guard !options.force else { return }
            let prunes = actions.filter { $0.action == .delete && $0.reason == .pruned }
            guard !prunes.isEmpty else { return }
            func limit(deletes: Int, managed: Int) -> PlanProblem {
                .overSafetyLimit(
                    deletes: deletes, percent: deletes * 100 / max(1, managed), managed: managed,
                    maxDeletes: options.safety.maxDeletes, maxPercent: options.safety.maxDeletePercent)
            }
            let managedIn = Dictionary(grouping: state.integrations, by: \.organization).mapValues(\.count)
            if prunes.count > options.safety.maxDeletes {
                let managed = managedIn.filter { organizations.contains($0.key) }.values.reduce(0, +)
                errors.append(limit(deletes: prunes.count, managed: managed))
                return
            }
            for (organization, deletes) in Dictionary(grouping: prunes, by: \.organization).sorted(by: {
                $0.key < $1.key
            }) {
                let managed = managedIn[organization] ?? 0
                guard managed >= Safety.percentageFloor, deletes.count * 100 > options.safety.maxDeletePercent * managed
                else { continue }
                errors.append(limit(deletes: deletes.count, managed: managed))
                return
            }
        }

        mutating func append(
            _ desired: DesiredIntegration, action: ActionKind, integrationId: String?, changes: PlannedChanges,
            reason: PlanReason?, notes: [PlanNote], steps: [PlannedStep]
        ) {
            actions.append(
                PlannedAction(
                    organization: desired.key.organization, name: desired.key.name, action: action,
                    integrationId: integrationId, type: desired.type, provider: desired.provider,
                    displayName: desired.displayName, changes: changes, reason: reason, notes: notes, steps: steps,
                    preSteps: [], dependsOn: []))
        }

        // MARK: - Ordering

        /// Sorts the actions, and orders them so that no displayName is taken while another integration still holds
        /// it: the one vacating goes first, a swap goes through a temporary name, and deletions run after creates and
        /// updates unless one frees a name something needs.
        mutating func finish() -> Plan {
            sortActions()
            var needsEarly = Set<Int>()
            for index in actions.indices {
                guard let wanted = takesName(actions[index]) else { continue }
                let organization = actions[index].organization
                let ownId = actions[index].integrationId
                let holders = (live.organizations[organization] ?? []).filter {
                    $0.summary.displayName == wanted && $0.id != ownId
                }
                for holder in holders {
                    if let vacating = actions.firstIndex(where: {
                        $0.organization == organization && $0.integrationId == holder.id && vacates($0)
                    }) {
                        actions[index].dependsOn.append(actions[vacating].id)
                        if actions[vacating].action == .delete { needsEarly.insert(vacating) }
                    } else if actions[index].action != .replace {
                        errors.append(
                            .displayNameTaken(actions[index].key, displayName: wanted, holder: describe(holder)))
                    }
                }
            }
            breakCycles()
            // Deletions after every create and update of their organization, unless they free a needed name.
            for index in actions.indices where actions[index].action == .delete && !needsEarly.contains(index) {
                for other in actions.indices
                where other != index && actions[other].organization == actions[index].organization
                    && actions[other].action != .delete
                { actions[index].dependsOn.append(actions[other].id) }
            }
            for index in actions.indices where actions[index].dependsOn.count > 1 {
                actions[index].dependsOn = Array(Set(actions[index].dependsOn)).sorted()
            }
            return Plan(actions: actions, errors: errors, warnings: warnings)
        }

        /// Sorts the actions by organization and name, stably. The positions are sorted and the actions then moved
        /// along the permutation's cycles: sorting 100,000 actions themselves would take a buffer of half of them.
        private mutating func sortActions() {
            var order = Array(actions.indices)
            order.sort { (actions[$0].organization, actions[$0].name) < (actions[$1].organization, actions[$1].name) }
            // actions[position] is to hold the action now at order[position].
            var placed = [Bool](repeating: false, count: actions.count)
            for start in actions.indices where !placed[start] {
                var position = start
                while order[position] != start {
                    actions.swapAt(position, order[position])
                    placed[position] = true
                    position = order[position]
                }
                placed[position] = true
            }
        }

        func takesName(_ action: PlannedAction) -> String? {
            for step in action.steps {
                switch step {
                case .create(let temporary): if temporary == nil { return action.displayName }
                case .update(let displayName, _, _): if let displayName { return displayName }
                case .rename(let name): return name
                default: continue
                }
            }
            return nil
        }

        func vacates(_ action: PlannedAction) -> Bool {
            action.action == .delete
                || action.steps.contains {
                    if case .update(let name?, _, _) = $0 { return name != action.liveDisplayName }
                    if case .rename = $0 { return true }
                    return false
                } || action.action == .replace
        }

        /// A cycle of renames (a swap) is broken by moving one member to a temporary name first.
        mutating func breakCycles() {
            // Only an action that waits for another can be on a cycle, and most plans have none: the index is built
            // for the actions waited for, not for every one of a plan of 100,000 creates.
            let waiting = actions.indices.filter { !actions[$0].dependsOn.isEmpty }
            guard !waiting.isEmpty else { return }
            let waitedFor = Set(waiting.flatMap { actions[$0].dependsOn })
            var visiting = Set<Int>(), done = Set<Int>()
            var positions: [ActionID: Int] = [:]
            for index in actions.indices where waitedFor.contains(actions[index].id) {
                positions[actions[index].id] = index
            }
            func visit(_ node: Int, path: [Int]) -> [Int]? {
                if visiting.contains(node) { return Array(path.drop { $0 != node }) }
                if done.contains(node) { return nil }
                visiting.insert(node)
                for next in actions[node].dependsOn.compactMap({ positions[$0] }) {
                    if let cycle = visit(next, path: path + [next]) { return cycle }
                }
                visiting.remove(node)
                done.insert(node)
                return nil
            }
            var guardCount = 0
            while guardCount < actions.count + 1 {
                guardCount += 1
                visiting = []
                done = []
                var found: [Int]?
                for index in waiting where found == nil { found = visit(index, path: [index]) }
                guard let cycle = found, let breaker = cycle.first else { return }
                let temporary = Self.temporaryName(
                    actions[breaker].liveDisplayName ?? actions[breaker].name, key: actions[breaker].key)
                actions[breaker].preSteps = [.rename(to: temporary)]
                actions[breaker].notes.append(.renamedFirstForSwap(temporaryName: temporary))
                let broken = actions[breaker].id
                for index in actions.indices { actions[index].dependsOn.removeAll { $0 == broken } }
            }
        }
    }
}
