package org.mallcrm.privacy;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The masking key as the Spark executors see it: environment variables set by
 * `mallcrm spark up` (or the cluster's secret store), never SQL.
 *
 *   MALLCRM_HMAC_KEY          the secret (UTF-8); required: no key, no tokens
 *   MALLCRM_HMAC_KEY_VERSION  its label, recorded beside every token
 *   MALLCRM_HMAC_KEY_IS_DEMO  "true" for the public demo key
 */
final class MaskingKey {
    static final String KEY_ENV = "MALLCRM_HMAC_KEY";
    static final String FINGERPRINT_MESSAGE = "mallcrm-key-fingerprint";

    private MaskingKey() {}

    static byte[] secret() {
        String key = System.getenv(KEY_ENV);
        if (key == null || key.isEmpty()) {
            throw new IllegalStateException(
                KEY_ENV + " is not set in this Spark process's environment: the masking key must reach "
                    + "every executor (spark.executorEnv." + KEY_ENV + " or the worker's environment)");
        }
        return key.getBytes(StandardCharsets.UTF_8);
    }

    static Mac newMac() {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(secret(), "HmacSHA256"));
            return mac;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is not available", e);
        }
    }

    static String version() {
        String version = System.getenv("MALLCRM_HMAC_KEY_VERSION");
        return version == null || version.isEmpty() ? "v1" : version;
    }

    static boolean isDemo() {
        return "true".equalsIgnoreCase(System.getenv("MALLCRM_HMAC_KEY_IS_DEMO"));
    }
}
