import LogStore
import LogStoreIngest
import Testing

@Suite struct FieldMappingTests {
    @Test func reanaDefaults() {
        let m = FieldMapping.reana
        #expect(m.message == ["log", "message", "msg", "short_message"])
        #expect(m.timestamp == ["@timestamp", "date", "time", "timestamp"])
        #expect(m.job == ["kubernetes.labels.job-name", "job"])
        #expect(m.workflow.first == "kubernetes.labels.reana-run-job-workflow-uuid")
        #expect(m.kubernetes == FieldMapping.KubernetesFallback())
    }

    @Test func configString() throws {
        let m = try FieldMapping(config: " job = a.b , c ; workflow=x;kubernetes=off ")
        #expect(m.job == ["a.b", "c"])
        #expect(m.workflow == ["x"])
        #expect(m.message == FieldMapping.reana.message)
        #expect(m.kubernetes == nil)
        #expect(try FieldMapping(config: m.config) == m)
        #expect(try FieldMapping(config: FieldMapping.reana.config) == FieldMapping.reana)
        #expect(try FieldMapping(config: "") == FieldMapping.reana)
        let pod = try FieldMapping(config: "pod=k.pod;namespace=k.ns;container=k.c")
        #expect(pod.kubernetes == FieldMapping.KubernetesFallback(namespace: "k.ns", pod: "k.pod", container: "k.c"))
        #expect(try FieldMapping(config: "workflow=").workflow == [])
    }

    @Test func badConfig() {
        #expect(throws: IngestError.self) { try FieldMapping(config: "jobs=a") }
        #expect(throws: IngestError.self) { try FieldMapping(config: "job") }
        #expect(throws: IngestError.self) { try FieldMapping(config: "pod=a,b") }
        #expect(throws: IngestError.self) { try FieldMapping(config: "kubernetes=maybe") }
    }
}
