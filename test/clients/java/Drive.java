import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.Function;
import org.openapitools.client.ApiClient;
import org.openapitools.client.ApiException;
import org.openapitools.client.ApiResponse;
import org.openapitools.client.api.ExportsApi;
import org.openapitools.client.api.ImportsApi;
import org.openapitools.client.api.MetaApi;
import org.openapitools.client.model.ExportAccepted;
import org.openapitools.client.model.ExportFormat;
import org.openapitools.client.model.ExportJob;
import org.openapitools.client.model.ExportRequest;
import org.openapitools.client.model.ImportAccepted;
import org.openapitools.client.model.ImportFormat;
import org.openapitools.client.model.ImportJob;
import org.openapitools.client.model.ImportRequest;
import org.openapitools.client.model.JobStatus;
import org.openapitools.client.model.ResourceType;
import org.openapitools.client.model.RowError;

/**
 * Compiled with the client the `java` generator (library `native`) makes from openapi.json, then run against the
 * local API by test/clients/java-native.test.ts: the same scenario as the TypeScript client's
 * (test/clients/scenario.ts), its report printed as one JSON object.
 * Arguments: base URL, domain id, group id, page size, then the scenario's input files as name=path.
 */
public final class Drive {
  private static final int MAX_POLLS = 600;
  private static final ObjectMapper JSON = new ObjectMapper();

  private final ImportsApi imports;
  private final ExportsApi exports;
  private final MetaApi meta;
  private final UUID domain;
  private final String group;
  private int keys;

  private Drive(ApiClient client, UUID domain, String group) {
    this.imports = new ImportsApi(client);
    this.exports = new ExportsApi(client);
    this.meta = new MetaApi(client);
    this.domain = domain;
    this.group = group;
  }

  public static void main(String[] args) throws Exception {
    ApiClient client = new ApiClient();
    client.updateBaseUri(args[0]);
    Map<String, File> inputs = new LinkedHashMap<>();
    for (int i = 4; i < args.length; i++) {
      String[] pair = args[i].split("=", 2);
      inputs.put(pair[0], new File(pair[1]));
    }
    Drive drive = new Drive(client, UUID.fromString(args[1]), args[2]);
    System.out.println(JSON.writeValueAsString(drive.run(inputs, Integer.parseInt(args[3]))));
  }

  private static String text(Map<String, File> in, String name) throws java.io.IOException {
    return Files.readString(in.get(name).toPath());
  }

  private String nextKey() {
    keys += 1;
    return "java-client-" + ProcessHandle.current().pid() + "-" + keys;
  }

  private interface Read<T> {
    T get() throws ApiException;
  }

  /** Polls a job until it is no longer pending or processing (the bound only stops a hung run). */
  private static <T> T settled(Read<T> read, Function<T, JobStatus> status)
      throws ApiException, InterruptedException {
    for (int i = 0; i < MAX_POLLS; i++) {
      T job = read.get();
      JobStatus now = status.apply(job);
      if (now != JobStatus.PENDING && now != JobStatus.PROCESSING) return job;
      Thread.sleep(100);
    }
    throw new IllegalStateException("the job did not finish");
  }

  private Map<String, Object> importSettled(UUID jobId) throws ApiException, InterruptedException {
    ImportJob job = settled(() -> imports.getImport(jobId, null, null), ImportJob::getStatus);
    Map<String, Object> seen = new LinkedHashMap<>();
    seen.put("status", job.getStatus().getValue());
    seen.put("total", job.getTotalRecords());
    seen.put("success", job.getSuccessCount());
    seen.put("fail", job.getFailCount());
    return seen;
  }

  private Map<String, Object> created(ApiResponse<ImportAccepted> response) throws Exception {
    Map<String, Object> seen = new LinkedHashMap<>();
    seen.put("status", response.getStatusCode());
    seen.put("job", importSettled(response.getData().getJobId()));
    return seen;
  }

  private Map<String, Object> run(Map<String, File> in, int pageSize) throws Exception {
    Map<String, Object> report = new LinkedHashMap<>();
    @SuppressWarnings("unchecked")
    Map<String, Object> document = (Map<String, Object>) meta.getOpenApi();
    report.put("openapi", document.get("openapi"));

    report.put(
        "multipart",
        created(
            imports.createImportFromMultipartWithHttpInfo(
                nextKey(), in.get("multipartCsv"), ResourceType.USERS, ImportFormat.CSV, domain, group, null, null)));
    report.put(
        "sourceUri",
        created(
            imports.createImportWithHttpInfo(
                nextKey(),
                new ImportRequest()
                    .resourceType(ResourceType.USERS)
                    .format(ImportFormat.CSV)
                    .domainId(domain)
                    .groupId(group)
                    .sourceUri(in.get("sourceCsv").getPath()))));
    report.put(
        "rawNdjson",
        created(
            imports.createImportFromBodyWithHttpInfo(
                nextKey(), ResourceType.USERS, ImportFormat.NDJSON, domain, group, text(in, "rawNdjson"), null, null)));

    ApiResponse<ImportAccepted> pending =
        imports.createImportWithHttpInfo(
            nextKey(),
            new ImportRequest()
                .resourceType(ResourceType.USERS)
                .format(ImportFormat.NDJSON)
                .domainId(domain)
                .groupId(group));
    UUID pendingId = pending.getData().getJobId();
    Map<String, Object> upload = new LinkedHashMap<>();
    upload.put("created", pending.getStatusCode());
    upload.put("pendingStatus", imports.getImport(pendingId, null, null).getStatus().getValue());
    upload.put(
        "uploaded", imports.uploadImportFileWithHttpInfo(pendingId, text(in, "uploadNdjson")).getStatusCode());
    upload.put("job", importSettled(pendingId));
    report.put("uploadUrl", upload);

    UUID withErrors =
        imports
            .createImportFromBody(
                nextKey(), ResourceType.USERS, ImportFormat.CSV, domain, group, text(in, "errorsCsv"), null, null)
            .getJobId();
    report.put("errorJob", importSettled(withErrors));
    List<List<Integer>> pages = new ArrayList<>();
    String cursor = null;
    do {
      ImportJob page = imports.getImport(withErrors, cursor, pageSize);
      pages.add(page.getErrors().stream().map(RowError::getLine).toList());
      cursor = page.getNextCursor();
    } while (cursor != null);
    report.put("errorPages", pages);

    String key = nextKey();
    ApiResponse<ImportAccepted> first =
        imports.createImportFromBodyWithHttpInfo(
            key, ResourceType.USERS, ImportFormat.CSV, domain, group, text(in, "repeatCsv"), null, null);
    ApiResponse<ImportAccepted> repeat =
        imports.createImportFromBodyWithHttpInfo(
            key, ResourceType.USERS, ImportFormat.CSV, domain, group, text(in, "repeatCsv"), null, null);
    Map<String, Object> idempotency = new LinkedHashMap<>();
    idempotency.put("first", first.getStatusCode());
    idempotency.put("repeat", repeat.getStatusCode());
    idempotency.put("sameJob", first.getData().getJobId().equals(repeat.getData().getJobId()));
    try {
      imports.createImportFromBody(
          key, ResourceType.USERS, ImportFormat.CSV, domain, group, text(in, "conflictCsv"), null, null);
      idempotency.put("conflict", 0);
      idempotency.put("conflictCode", "");
    } catch (ApiException refused) {
      idempotency.put("conflict", refused.getCode());
      idempotency.put("conflictCode", JSON.readTree(refused.getResponseBody()).get("code").asText());
    }
    report.put("idempotency", idempotency);
    importSettled(first.getData().getJobId());

    File streamed = exports.streamExport(ResourceType.USERS, ExportFormat.CSV, domain, null, null, "username");
    List<String> lines = Files.readAllLines(streamed.toPath());
    Map<String, Object> streamedCsv = new LinkedHashMap<>();
    streamedCsv.put("header", lines.get(0));
    streamedCsv.put("usernames", lines.subList(1, lines.size()));
    report.put("streamedCsv", streamedCsv);

    ApiResponse<ExportAccepted> exportCreated =
        exports.createExportWithHttpInfo(
            nextKey(),
            new ExportRequest()
                .resourceType(ResourceType.USERS)
                .format(ExportFormat.NDJSON)
                .domainId(domain)
                .fields(List.of("username")));
    UUID exportId = exportCreated.getData().getJobId();
    ExportJob exportJob = settled(() -> exports.getExport(exportId), ExportJob::getStatus);
    List<String> exported = new ArrayList<>();
    for (String line : Files.readAllLines(Path.of(exportJob.getDownloadUrl()))) {
      exported.add(JSON.readTree(line).get("username").asText());
    }
    Map<String, Object> asyncExport = new LinkedHashMap<>();
    asyncExport.put("created", exportCreated.getStatusCode());
    asyncExport.put("status", exportJob.getStatus().getValue());
    asyncExport.put("total", exportJob.getTotalRecords());
    asyncExport.put("usernames", exported);
    report.put("asyncExport", asyncExport);
    return report;
  }
}
