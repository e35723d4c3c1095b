package org.mallcrm.privacy;

import java.nio.charset.StandardCharsets;
import javax.crypto.Mac;
import org.apache.hadoop.hive.ql.exec.Description;
import org.apache.hadoop.hive.ql.exec.UDF;

/**
 * pii_hmac(value): lowercase hex HMAC-SHA256 of the UTF-8 bytes of value under the
 * masking key, byte-equal to privacy/tokens.py and to the DuckDB UDF.
 *
 * The key is read from the executor's environment (MALLCRM_HMAC_KEY), never from SQL, so
 * it appears in no query text, query history or plan. NULL in, NULL out.
 */
@Description(name = "pii_hmac", value = "_FUNC_(value) - keyed HMAC-SHA256 token of value (hex)")
public final class PiiHmac extends UDF {
    private static final char[] HEX = "0123456789abcdef".toCharArray();
    // Mac is not thread-safe; one keyed instance per task thread, cloned from the keyed prototype.
    private static final ThreadLocal<Mac> MAC = ThreadLocal.withInitial(MaskingKey::newMac);

    public String evaluate(String value) {
        if (value == null) {
            return null;
        }
        Mac mac = MAC.get();
        byte[] digest = mac.doFinal(value.getBytes(StandardCharsets.UTF_8));
        char[] out = new char[digest.length * 2];
        for (int i = 0; i < digest.length; i++) {
            out[2 * i] = HEX[(digest[i] >> 4) & 0xf];
            out[2 * i + 1] = HEX[digest[i] & 0xf];
        }
        return new String(out);
    }
}
