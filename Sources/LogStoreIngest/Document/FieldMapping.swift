/// Which document fields give a line its message, timestamp, job and workflow.
///
/// Every entry is a list of dotted paths tried in order; the first one present wins. A dotted path
/// matches nested objects and flat keys with literal dots alike (see ``JSONPathSet``).
/// When neither a job nor a workflow is found, the optional Kubernetes fallback applies:
/// workflow = namespace, job = pod + "/" + container (just pod when there is no container).
public struct FieldMapping: Sendable, Equatable {
    /// Paths of the message (REANA: `log`, `message`, `msg`; GELF: `short_message`).
    public var message: [String]
    /// Paths of the timestamp (REANA: `@timestamp`, `date`, `time`, `timestamp`).
    public var timestamp: [String]
    /// Paths of the job name.
    public var job: [String]
    /// Paths of the workflow id.
    public var workflow: [String]
    /// The generic Kubernetes fallback, or `nil` to disable it.
    public var kubernetes: KubernetesFallback?

    /// Paths used when a document names neither a job nor a workflow.
    public struct KubernetesFallback: Sendable, Equatable {
        /// Gives the workflow (default `kubernetes.namespace_name`).
        public var namespace: String
        /// Gives the job (default `kubernetes.pod_name`).
        public var pod: String
        /// Appended to the job as `/container` when present (default `kubernetes.container_name`).
        public var container: String

        /// Creates a fallback; the defaults are FluentBit's kubernetes filter keys.
        public init(
            namespace: String = "kubernetes.namespace_name", pod: String = "kubernetes.pod_name",
            container: String = "kubernetes.container_name"
        ) {
            self.namespace = namespace
            self.pod = pod
            self.container = container
        }
    }

    /// Creates a mapping.
    public init(
        message: [String], timestamp: [String], job: [String], workflow: [String],
        kubernetes: KubernetesFallback? = KubernetesFallback()
    ) {
        self.message = message
        self.timestamp = timestamp
        self.job = job
        self.workflow = workflow
        self.kubernetes = kubernetes
    }

    /// REANA's defaults (FluentBit documents shipped by REANA's Helm chart, plus plain fields).
    public static let reana = FieldMapping(
        message: ["log", "message", "msg", "short_message"],
        timestamp: ["@timestamp", "date", "time", "timestamp"],
        job: ["kubernetes.labels.job-name", "job"],
        workflow: [
            "kubernetes.labels.reana-run-job-workflow-uuid",
            "kubernetes.labels.reana-run-batch-workflow-uuid",
            "workflow",
        ],
        kubernetes: KubernetesFallback())

    /// Parses a configuration string, starting from ``reana`` and overriding what it names.
    ///
    /// Form: `key=path,path;key=path` with keys `message`, `timestamp`, `job`, `workflow`
    /// (path lists; an empty list means none), `namespace`, `pod`, `container` (one path each,
    /// for the Kubernetes fallback) and `kubernetes=off|on`. Spaces around items are ignored.
    /// Example: `job=labels.job,job;workflow=labels.run;kubernetes=off`.
    public init(config: String) throws(IngestError) {
        var mapping = FieldMapping.reana
        for rawItem in config.split(separator: ";") {
            let item = Self.trim(rawItem)
            if item.isEmpty { continue }
            guard let eq = item.firstIndex(of: "=") else {
                throw .badMapping("expected key=value in \"\(item)\"")
            }
            let key = Self.trim(item[item.startIndex..<eq]).lowercased()
            let value = Self.trim(item[item.index(after: eq)...])
            let paths = value.split(separator: ",").map { Self.trim($0) }.filter { !$0.isEmpty }
            func single() throws(IngestError) -> String {
                guard paths.count == 1 else { throw .badMapping("\(key) takes exactly one path") }
                return paths[0]
            }
            switch key {
            case "message": mapping.message = paths
            case "timestamp": mapping.timestamp = paths
            case "job": mapping.job = paths
            case "workflow": mapping.workflow = paths
            case "namespace":
                let path = try single()
                mapping.kubernetes = Self.fallback(mapping.kubernetes) { $0.namespace = path }
            case "pod":
                let path = try single()
                mapping.kubernetes = Self.fallback(mapping.kubernetes) { $0.pod = path }
            case "container":
                let path = try single()
                mapping.kubernetes = Self.fallback(mapping.kubernetes) { $0.container = path }
            case "kubernetes":
                switch value.lowercased() {
                case "off", "false", "no": mapping.kubernetes = nil
                case "on", "true", "yes": mapping.kubernetes = mapping.kubernetes ?? KubernetesFallback()
                default: throw .badMapping("kubernetes must be on or off, not \"\(value)\"")
                }
            default:
                throw .badMapping(
                    "unknown key \"\(key)\" (expected message, timestamp, job, workflow, namespace, pod, container, kubernetes)"
                )
            }
        }
        self = mapping
    }

    /// The configuration string that ``init(config:)`` turns back into this mapping.
    public var config: String {
        var items = [
            "message=" + message.joined(separator: ","),
            "timestamp=" + timestamp.joined(separator: ","),
            "job=" + job.joined(separator: ","),
            "workflow=" + workflow.joined(separator: ","),
        ]
        if let k = kubernetes {
            items += ["namespace=" + k.namespace, "pod=" + k.pod, "container=" + k.container]
        } else {
            items.append("kubernetes=off")
        }
        return items.joined(separator: ";")
    }

    private static func fallback(
        _ current: KubernetesFallback?, _ change: (inout KubernetesFallback) -> Void
    ) -> KubernetesFallback {
        var f = current ?? KubernetesFallback()
        change(&f)
        return f
    }

    private static func trim(_ s: Substring) -> String {
        var slice = s
        while let f = slice.first, f == " " || f == "\t" || f == "\n" || f == "\r" { slice.removeFirst() }
        while let l = slice.last, l == " " || l == "\t" || l == "\n" || l == "\r" { slice.removeLast() }
        return String(slice)
    }

    private static func trim(_ s: String) -> String { trim(Substring(s)) }
}
