package org.apache.hadoop.hive.llap.security;

/**
 * For the local cluster only (`mallcrm spark up`), never shipped to a production cluster.
 *
 * The pyspark distribution leaves out Hive's LLAP jars, yet Hive's built-in function
 * registry names this interface (GenericUDTFGetSplits) when it initializes. The Thrift
 * server initializes that registry when it closes a client session (embedded metastore),
 * so without this interface the first session close after a while fails with
 * NoClassDefFoundError ...LlapSigner$Signable, and dbt reports the node that ran on that
 * connection as an error. The interface only needs to exist: nothing here calls it.
 * Same shape as Hive 2.3's org.apache.hadoop.hive.llap.security.LlapSigner.Signable.
 */
public interface LlapSigner {
    interface Signable {
        void setSignInfo(int masterKeyId);

        int getMasterKeyId();

        byte[] serialize() throws java.io.IOException;
    }
}
