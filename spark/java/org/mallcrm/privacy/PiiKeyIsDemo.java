package org.mallcrm.privacy;

import org.apache.hadoop.hive.ql.exec.Description;
import org.apache.hadoop.hive.ql.exec.UDF;

/** pii_key_is_demo(): see MaskingKey; the masked layer records it beside the tokens. */
@Description(name = "pii_key_is_demo", value = "_FUNC_() - pii_key_is_demo of the masking key")
public final class PiiKeyIsDemo extends UDF {
    public Boolean evaluate() {
        return MaskingKey.isDemo();
    }
}
