package matchbridge.test;

import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import javax.security.auth.callback.Callback;
import javax.security.auth.callback.UnsupportedCallbackException;
import javax.security.auth.login.AppConfigurationEntry;
import org.apache.kafka.common.security.auth.AuthenticateCallbackHandler;
import org.apache.kafka.common.security.oauthbearer.OAuthBearerExtensionsValidatorCallback;
import org.apache.kafka.common.security.oauthbearer.OAuthBearerToken;
import org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallback;

/**
 * The broker side of MSK IAM access control, as far as it can run without IAM: the SASL/OAUTHBEARER token
 * must be what aws-msk-iam-sasl-signer-js produces (a base64url, SigV4-presigned GET of
 * kafka.<region>.amazonaws.com with Action=kafka-cluster:Connect, not expired); its signature cannot be
 * checked here. The principal is the signing access key.
 */
public final class MskIamTokenValidator implements AuthenticateCallbackHandler {
  @Override
  public void configure(Map<String, ?> configs, String mechanism, List<AppConfigurationEntry> entries) {}

  @Override
  public void close() {}

  @Override
  public void handle(Callback[] callbacks) throws UnsupportedCallbackException {
    for (Callback callback : callbacks) {
      if (callback instanceof OAuthBearerValidatorCallback validation) {
        validate(validation);
      } else if (callback instanceof OAuthBearerExtensionsValidatorCallback extensions) {
        extensions.inputExtensions().map().forEach((name, value) -> extensions.valid(name));
      } else {
        throw new UnsupportedCallbackException(callback);
      }
    }
  }

  private static void validate(OAuthBearerValidatorCallback callback) {
    String value = callback.tokenValue();
    Map<String, String> query = new HashMap<>();
    URI uri;
    try {
      uri = URI.create(new String(Base64.getUrlDecoder().decode(value), StandardCharsets.UTF_8));
      for (String pair : uri.getRawQuery().split("&")) {
        String[] parts = pair.split("=", 2);
        query.put(parts[0], parts.length > 1 ? URLDecoder.decode(parts[1], StandardCharsets.UTF_8) : "");
      }
    } catch (RuntimeException e) {
      callback.error("invalid_token", null, null);
      return;
    }
    String host = uri.getHost() == null ? "" : uri.getHost();
    String credential = query.getOrDefault("X-Amz-Credential", "");
    long issued;
    long expires;
    try {
      issued = java.time.LocalDateTime
          .parse(query.getOrDefault("X-Amz-Date", ""), java.time.format.DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'"))
          .toInstant(java.time.ZoneOffset.UTC).toEpochMilli();
      expires = issued + Long.parseLong(query.getOrDefault("X-Amz-Expires", "0")) * 1000L;
    } catch (RuntimeException e) {
      callback.error("invalid_token", null, null);
      return;
    }
    boolean valid = host.matches("kafka\\.[a-z0-9-]+\\.amazonaws\\.com")
        && "kafka-cluster:Connect".equals(query.get("Action"))
        && "AWS4-HMAC-SHA256".equals(query.get("X-Amz-Algorithm"))
        && credential.matches("[A-Z0-9]+/\\d{8}/[a-z0-9-]+/kafka-cluster/aws4_request")
        && !query.getOrDefault("X-Amz-Signature", "").isEmpty()
        && expires > System.currentTimeMillis();
    if (!valid) {
      callback.error("invalid_token", null, null);
      return;
    }
    String principal = credential.substring(0, credential.indexOf('/'));
    callback.token(new OAuthBearerToken() {
      @Override public String value() { return value; }
      @Override public Set<String> scope() { return Set.of(); }
      @Override public long lifetimeMs() { return expires; }
      @Override public String principalName() { return principal; }
      @Override public Long startTimeMs() { return issued; }
    });
  }
}
