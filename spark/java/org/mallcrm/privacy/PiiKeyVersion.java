package org.mallcrm.privacy;

import org.apache.hadoop.hive.ql.exec.Description;
import org.apache.hadoop.hive.ql.exec.UDF;

/** pii_key_version(): see MaskingKey; the masked layer records it beside the tokens. */
@Description(name = "pii_key_version", value = "_FUNC_() - pii_key_version of the masking key")
public final class PiiKeyVersion extends UDF {
    public String evaluate() {
        return MaskingKey.version();
    }
}
