import ArgumentParser
import Foundation

extension HitsCommand {
    /// `GET /v1/hits` of `base` with the same query, window, step and grouping: printed as the
    /// server sent it (`--json`) or as the local command prints it.
    func remote(_ base: String) async throws {
        let fromNs = try from.map { try parseTime($0, option: "--from") }
        let toNs = try to.map { try parseTime($0, option: "--to") }
        let response = try await HTTPFetch.sendForCommand(
            .GET, to: try client.endpoint(base), path: "/v1/hits",
            query: [("q", query), ("step", step), ("by", by), ("from", fromNs.map { String($0 / 1_000_000) }), ("to", toNs.map { String($0 / 1_000_000) })])
        if response.status != 200 {
            printError(ServerRefusal(endpoint: try client.endpoint(base), status: response.status, body: response.data, needs: .read).description)
            throw ExitCode(1)
        }
        if json {
            FileHandle.standardOutput.write(response.data + Data([0x0A]))
            return
        }
        guard let answer = (try? JSONSerialization.jsonObject(with: response.data)) as? [String: Any], let total = answer["total"] as? Int else {
            printError("error: \(base)/v1/hits is not what this logstore understands")
            throw ExitCode(1)
        }
        var out = ""
        for bucket in answer["buckets"] as? [[String: Any]] ?? [] {
            out += "\(bucket["start"] as? String ?? "")  \(bucket["count"] as? Int ?? 0)\n"
        }
        out += "total  \(total)\n"
        if let by {
            out += "\n"
            let groups = answer["by_\(by)"] as? [String: Int] ?? [:]
            for (name, count) in groups.sorted(by: { $0.value > $1.value }) { out += "\(count)  \(name.isEmpty ? "-" : name)\n" }
        }
        FileHandle.standardOutput.write(Data(out.utf8))
    }
}
