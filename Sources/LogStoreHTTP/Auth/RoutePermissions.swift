import HTTPTypes

/// RoutePermissions is the one table saying which permission each route needs: the
/// authorization middleware looks a request up here by method and route pattern (the
/// pattern the router matched, e.g. `/{index}/_bulk`) before any handler runs.
///
/// A route missing from the table needs `admin` (a new route is closed until it is listed);
/// a path no route answers needs any valid user (so a stranger learns nothing from 404s).
public enum RoutePermissions {
    /// RoutePermissions.table maps "METHOD pattern" to what the route needs.
    static let table: [String: RouteRequirement] = {
        var table: [String: RouteRequirement] = [:]
        func add(_ methods: [String], _ patterns: [String], _ requirement: RouteRequirement) {
            for method in methods {
                for pattern in patterns { table["\(method) \(pattern)"] = requirement }
            }
        }
        add(["GET"], ["/health"], .open)
        // Ingest: OpenSearch bulk (FluentBit's es/opensearch outputs) and the http output.
        add(["POST", "PUT"], ["/_bulk", "/{index}/_bulk"], .permission(.ingest))
        add(["POST"], ["/", "/ingest", "/v1/ingest"], .permission(.ingest))
        // Reads: the OpenSearch read APIs and the native ones.
        add(["GET", "POST"], ["/_search", "/{index}/_search", "/_count", "/{index}/_count"], .permission(.read))
        add(["HEAD"], ["/{index}"], .permission(.read))
        add(["GET"], ["/_mapping", "/{index}/_mapping"], .permission(.read))
        add(["GET", "POST"], ["/_field_caps", "/{index}/_field_caps"], .permission(.read))
        add(["GET"], ["/v1/logs", "/v1/tail", "/v1/search", "/v1/hits", "/v1/streams", "/v1/stats"], .permission(.read))
        add(["GET", "HEAD"], ["/"], .authenticated)
        add(["GET", "HEAD"], ["/{index}/_doc/{id}"], .permission(.read))
        add(["PUT", "POST"], ["/{index}/_doc/{id}", "/{index}/_create/{id}"], .permission(.ingest))
        add(["POST"], ["/{index}/_doc"], .permission(.ingest))
        add(["GET"], ["/_cat/indices", "/_cat/indices/{index}", "/_cat/health", "/_cluster/health", "/_cluster/health/{index}"], .permission(.read))
        // Administration.
        add(["DELETE"], ["/v1/workflows/{id}"], .permission(.admin))
        add(["POST"], ["/v1/admin/compact"], .permission(.admin))
        // The web viewer's files and its login (its data comes from the read routes above).
        add(["GET"], ["/ui", "/ui/{file}", "/ui/session"], .open)
        add(["POST"], ["/ui/login", "/ui/logout"], .open)
        add(["GET"], ["/v1/workflows"], .permission(.read))
        return table
    }()

    /// RoutePermissions.requirement returns what a request for `pattern` (the router's
    /// endpoint path; nil or "NotFound" when no route matched) with `method` needs.
    /// `/metrics` is open when `openMetrics`, otherwise it needs `read`.
    public static func requirement(method: HTTPRequest.Method, pattern: String?, openMetrics: Bool) -> RouteRequirement {
        guard let pattern, pattern != "NotFound" else { return .authenticated }
        if pattern == "/metrics" && method == .get { return openMetrics ? .open : .permission(.read) }
        return table["\(method.rawValue) \(pattern)"] ?? .permission(.admin)
    }
}
