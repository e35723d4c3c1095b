package org.mallcrm.privacy;

import org.apache.hadoop.hive.ql.exec.Description;
import org.apache.hadoop.hive.ql.exec.UDF;

/** pii_key_fingerprint(): see MaskingKey; the masked layer records it beside the tokens. */
@Description(name = "pii_key_fingerprint", value = "_FUNC_() - pii_key_fingerprint of the masking key")
public final class PiiKeyFingerprint extends UDF {
    public String evaluate() {
        return new PiiHmac().evaluate(MaskingKey.FINGERPRINT_MESSAGE).substring(0, 16);
    }
}
