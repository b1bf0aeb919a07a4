// Every operation the dashboard sends, typed by GraphQL Code Generator from schema.graphql.
import { graphql } from "./gql";

export const CalendarQuery = graphql(`
  query Calendar($from: DateTime!, $to: DateTime!) {
    calendar(from: $from, to: $to) {
      __typename
      ... on Release {
        id
        key
        name
        status
        type
        windowStart
        windowEnd
        applications { id key name }
        links { id source kind externalKey }
      }
      ... on BlackoutWindow {
        id
        name
        start
        end
        tiers
        reason
        applications { id key name }
      }
      ... on EnvironmentBooking {
        id
        start
        end
        bookingStatus: status
        purpose
        team
        environment { id name tier }
        release { id key }
      }
    }
    applications { id key name }
  }
`);

// Apart from the calendar's own query, so releases show before the ITSMs answer.
export const CalendarChangesQuery = graphql(`
  query CalendarChanges($from: DateTime!, $to: DateTime!) {
    changeRequests(filter: { windowFrom: $from, windowTo: $to }, first: 100) {
      nodes {
        id
        number
        title
        state
        stateLabel
        approval
        plannedStart
        plannedEnd
        source { name kind product }
      }
    }
  }
`);

export const CalendarConflictsQuery = graphql(`
  query CalendarConflicts($from: DateTime!, $to: DateTime!, $filter: ConflictFilter) {
    conflicts(from: $from, to: $to, filter: $filter) {
      kind
      severity
      start
      end
      reason
      records { type id label changeRequest { id url } }
    }
  }
`);

export const ReleasesQuery = graphql(`
  query Releases($filter: ReleaseFilter) {
    releases(filter: $filter, first: 100) {
      totalCount
      nodes {
        id
        key
        name
        type
        status
        windowStart
        windowEnd
        applications { id key name }
        readiness { total done ratio complete }
      }
    }
    applications { id key name }
  }
`);

export const ReleaseQuery = graphql(`
  query Release($key: String!) {
    release(key: $key) {
      id
      key
      name
      description
      type
      status
      windowStart
      windowEnd
      updatedAt
      version
      availableTransitions { to allowed reason gated }
      applications { id key name repositories projects: jiraProjects }
      links { id source kind externalKey }
      parent { id key name }
      children { id key name status windowStart windowEnd }
      phases { id name position start end }
      readiness {
        total
        done
        ratio
        complete
        changeApproved
        perSource { source total done stale available problem problemCode }
        openBlockers { id key title url }
      }
      workItems(first: 100) {
        totalCount
        nodes {
          __typename
          id
          key
          title
          url
          status
          statusLabel
          kind
          assignee
          source { name kind product }
          ... on JiraIssue { issueType priority }
          ... on GitHubPullRequest { repository number merged }
          ... on GitHubIssue { repository number }
        }
      }
      changeRequests {
        __typename
        id
        number
        title
        url
        state
        stateLabel
        type
        risk
        approval
        plannedStart
        plannedEnd
        source { name kind product }
      }
      deployments { id environment ref state stateLabel updatedAt url }
      history(first: 30) { id at actor action reason entityType entityKey before after }
      gates { name passed reason }
    }
    sources { name kind product capabilities status lastSuccessAt }
  }
`);

export const TransitionMutation = graphql(`
  mutation Transition($id: ID!, $to: ReleaseStatus!, $reason: String!, $override: GateOverrideInput, $expectedVersion: Int) {
    transitionRelease(id: $id, to: $to, reason: $reason, override: $override, expectedVersion: $expectedVersion) {
      id
      status
      updatedAt
      version
      history(first: 30) { id at actor action reason entityType entityKey before after }
      gates { name passed reason }
    }
  }
`);

export const ChangeRequestsQuery = graphql(`
  query ChangeRequests($filter: ChangeRequestFilter, $after: String) {
    changeRequests(filter: $filter, first: 50, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      nodes {
        __typename
        id
        number
        title
        url
        state
        stateLabel
        type
        risk
        approval
        plannedStart
        plannedEnd
        source { name kind product }
      }
    }
    sources { name kind product capabilities }
  }
`);

export const EnvironmentsQuery = graphql(`
  query Environments {
    environments {
      id
      name
      tier
      deployTarget
      description
      applications { id key name }
      deployedVersions {
        application
        deployment { id repository environment ref sha state stateLabel updatedAt url }
      }
    }
  }
`);

export const SourcesQuery = graphql(`
  query Sources {
    sources {
      name
      kind
      product
      capabilities
      status
      breaker
      calls
      failures
      latencyMs
      lastSuccessAt
      lastErrorCode
      lastError
      lastErrorAt
    }
  }
`);

export const ChangePreviewQuery = graphql(`
  query ChangePreview($key: String!) {
    release(key: $key) {
      id
      changePreview {
        title
        description
        type
        risk
        riskReasons
        plannedStart
        plannedEnd
        configurationItems
        backoutPlan
        testEvidence
        linkedTickets
        warnings
      }
    }
  }
`);

export const RaiseChangeMutation = graphql(`
  mutation RaiseChange(
    $releaseId: ID!
    $source: String!
    $key: String!
    $acknowledgeBlackout: Boolean!
    $additional: AdditionalChangeInput
  ) {
    raiseChangeRequest(
      releaseId: $releaseId
      source: $source
      idempotencyKey: $key
      acknowledgeBlackout: $acknowledgeBlackout
      additional: $additional
    ) {
      created
      warnings
      changeRequest { id number state stateLabel approval source { name kind product } }
    }
  }
`);

export const ReleaseNotesQuery = graphql(`
  query ReleaseNotes($key: String!, $audience: Audience!) {
    release(key: $key) {
      id
      releaseNotes(audience: $audience, format: HTML)
    }
  }
`);

// The change board: both decision states in one request, so one failing ITSM
// still leaves the other's changes (and a partial-result error per source).
export const ChangeBoardQuery = graphql(`
  query ChangeBoard($windowFrom: DateTime, $windowTo: DateTime) {
    assess: changeRequests(filter: { state: ASSESS, windowFrom: $windowFrom, windowTo: $windowTo }, first: 100) {
      nodes { ...BoardChange }
    }
    authorize: changeRequests(filter: { state: AUTHORIZE, windowFrom: $windowFrom, windowTo: $windowTo }, first: 100) {
      nodes { ...BoardChange }
    }
  }

  fragment BoardChange on ChangeRequest {
    id
    number
    title
    url
    state
    stateLabel
    approval
    type
    risk
    plannedStart
    plannedEnd
    source { name kind product }
    releases {
      id
      key
      name
      windowStart
      windowEnd
      applications { id name cmdbItems }
    }
  }
`);

export const CabReleaseQuery = graphql(`
  query CabRelease($key: String!) {
    release(key: $key) {
      id
      key
      name
      status
      gates { name passed reason }
      history(first: 30) { id action }
      releaseNotes(audience: OPERATIONS, format: HTML)
    }
  }
`);

// ---------------------------------------------------------------- planning

export const PlanningContextQuery = graphql(`
  query PlanningContext {
    applications { id key name repositories projects: jiraProjects }
    releases(first: 100) { nodes { id key name } }
    sources { name kind product capabilities }
    viewer { username role }
  }
`);

export const ReleaseEditQuery = graphql(`
  query ReleaseEdit($key: String!) {
    release(key: $key) {
      id
      key
      name
      description
      type
      status
      windowStart
      windowEnd
      version
      parent { id key name }
      children { id key name status windowStart windowEnd }
      applications { id key name repositories projects: jiraProjects }
      phases { id name position start end }
      links { id source kind externalKey createdAt }
    }
  }
`);

export const CreateReleaseMutation = graphql(`
  mutation CreateRelease($input: CreateReleaseInput!) {
    createRelease(input: $input) { id key name version }
  }
`);

export const UpdateReleaseMutation = graphql(`
  mutation UpdateRelease($id: ID!, $input: UpdateReleaseInput!, $expectedVersion: Int) {
    updateRelease(id: $id, input: $input, expectedVersion: $expectedVersion) {
      id key name description type windowStart windowEnd version
      parent { id key name }
      applications { id key name repositories projects: jiraProjects }
    }
  }
`);

export const DeleteReleaseMutation = graphql(`
  mutation DeleteRelease($id: ID!, $expectedVersion: Int) {
    deleteRelease(id: $id, expectedVersion: $expectedVersion) { id }
  }
`);

export const AddPhaseMutation = graphql(`
  mutation AddPhase($releaseId: ID!, $input: ReleasePhaseInput!, $expectedVersion: Int) {
    addReleasePhase(releaseId: $releaseId, input: $input, expectedVersion: $expectedVersion) { id name position start end }
  }
`);

export const DeletePhaseMutation = graphql(`
  mutation DeletePhase($id: ID!) {
    deleteReleasePhase(id: $id) { id }
  }
`);

export const LinkCandidatesQuery = graphql(`
  query LinkCandidates($source: String!, $kind: LinkKind!, $container: String!, $search: String, $first: Int! = 20) {
    linkCandidates(source: $source, kind: $kind, container: $container, search: $search, first: $first) {
      source kind key name container url detail closed date
    }
  }
`);

export const LinkSourceMutation = graphql(`
  mutation LinkSource($releaseId: ID!, $link: SourceLinkInput!) {
    linkSource(releaseId: $releaseId, link: $link) { id source kind externalKey createdAt }
  }
`);

export const UnlinkSourceMutation = graphql(`
  mutation UnlinkSource($id: ID!) {
    unlinkSource(id: $id) { id }
  }
`);

// ---------------------------------------------------------------- environments

export const EnvironmentsAdminQuery = graphql(`
  query EnvironmentsAdmin {
    environments {
      id
      name
      tier
      deployTarget
      description
      applications { id key name }
      deployedVersions {
        application
        deployment { id repository environment ref sha state stateLabel updatedAt url }
      }
    }
    blackoutWindows { id name start end tiers reason applications { id key name } }
    applications { id key name }
  }
`);

export const CreateEnvironmentMutation = graphql(`
  mutation CreateEnvironment($input: EnvironmentInput!) {
    createEnvironment(input: $input) { id name tier deployTarget description applications { id key name } }
  }
`);

export const UpdateEnvironmentMutation = graphql(`
  mutation UpdateEnvironment($id: ID!, $input: UpdateEnvironmentInput!) {
    updateEnvironment(id: $id, input: $input) { id name tier deployTarget description applications { id key name } }
  }
`);

export const DeleteEnvironmentMutation = graphql(`
  mutation DeleteEnvironment($id: ID!) {
    deleteEnvironment(id: $id) { id }
  }
`);

export const CreateBlackoutMutation = graphql(`
  mutation CreateBlackout($input: BlackoutWindowInput!) {
    createBlackoutWindow(input: $input) { id name start end tiers reason applications { id key name } }
  }
`);

export const UpdateBlackoutMutation = graphql(`
  mutation UpdateBlackout($id: ID!, $input: UpdateBlackoutWindowInput!) {
    updateBlackoutWindow(id: $id, input: $input) { id name start end tiers reason applications { id key name } }
  }
`);

export const DeleteBlackoutMutation = graphql(`
  mutation DeleteBlackout($id: ID!) {
    deleteBlackoutWindow(id: $id) { id }
  }
`);

// Live updates: only what was written; the page reads itself again for the rest.
export const ReleaseLiveSubscription = graphql(`
  subscription ReleaseLive($key: String!) {
    releaseChanged(key: $key) { action entity key }
  }
`);

export const ChangesLiveSubscription = graphql(`
  subscription ChangesLive {
    changeRequestChanged { action entity key }
  }
`);

export const BookingFields = graphql(`
  fragment BookingFields on EnvironmentBooking {
    id
    team
    requestedBy
    start
    end
    status
    purpose
    decidedBy
    decisionReason
    overrideReason
    version
    environment { id name tier }
    release { id key }
    overlapping { id status start end team requestedBy release { id key } }
  }
`);

export const EnvironmentBookingsQuery = graphql(`
  query EnvironmentBookings($environmentId: ID!) {
    bookings(environmentId: $environmentId) { ...BookingFields }
  }
`);

export const ReleaseBookingsQuery = graphql(`
  query ReleaseBookings($key: String!) {
    release(key: $key) { id bookings { ...BookingFields } }
    environments { id name tier }
  }
`);

export const RequestBookingMutation = graphql(`
  mutation RequestBooking($input: BookingRequestInput!) {
    requestBooking(input: $input) { ...BookingFields }
  }
`);

export const ApproveBookingMutation = graphql(`
  mutation ApproveBooking($id: ID!, $reason: String!, $override: String, $expectedVersion: Int) {
    approveBooking(id: $id, reason: $reason, override: $override, expectedVersion: $expectedVersion) { ...BookingFields }
  }
`);

export const RejectBookingMutation = graphql(`
  mutation RejectBooking($id: ID!, $reason: String!, $expectedVersion: Int) {
    rejectBooking(id: $id, reason: $reason, expectedVersion: $expectedVersion) { ...BookingFields }
  }
`);

export const CancelBookingMutation = graphql(`
  mutation CancelBooking($id: ID!, $reason: String!, $expectedVersion: Int) {
    cancelBooking(id: $id, reason: $reason, expectedVersion: $expectedVersion) { ...BookingFields }
  }
`);

export const PlanFields = graphql(`
  fragment PlanFields on DeploymentPlan {
    id
    notes
    origin
    version
    progress { status count }
    activities {
      id
      position
      title
      owner
      plannedStart
      plannedEnd
      durationMinutes
      status
      startedAt
      startedBy
      finishedAt
      finishedBy
      outcomeNote
      dependsOn
      environment { id name }
    }
  }
`);

export const ReleasePlanQuery = graphql(`
  query ReleasePlan($key: String!) {
    release(key: $key) { id plan { ...PlanFields } }
    planTemplates { id name description activityTitles }
  }
`);

export const CreatePlanMutation = graphql(`
  mutation CreatePlan($releaseId: ID!, $template: String, $copyPrevious: Boolean!) {
    createDeploymentPlan(releaseId: $releaseId, template: $template, copyPrevious: $copyPrevious) { ...PlanFields }
  }
`);

export const StartActivityMutation = graphql(`
  mutation StartActivity($id: ID!, $note: String!) { startActivity(id: $id, note: $note) { id status startedAt startedBy outcomeNote } }
`);
export const CompleteActivityMutation = graphql(`
  mutation CompleteActivity($id: ID!, $note: String!) { completeActivity(id: $id, note: $note) { id status finishedAt finishedBy outcomeNote } }
`);
export const FailActivityMutation = graphql(`
  mutation FailActivity($id: ID!, $note: String!) { failActivity(id: $id, note: $note) { id status finishedAt finishedBy outcomeNote } }
`);
export const SkipActivityMutation = graphql(`
  mutation SkipActivity($id: ID!, $note: String!) { skipActivity(id: $id, note: $note) { id status finishedAt finishedBy outcomeNote } }
`);
