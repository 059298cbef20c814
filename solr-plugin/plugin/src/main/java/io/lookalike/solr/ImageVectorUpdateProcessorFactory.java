package io.lookalike.solr;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.solr.common.SolrException;
import org.apache.solr.common.SolrInputDocument;
import org.apache.solr.common.SolrInputField;
import org.apache.solr.request.SolrQueryRequest;
import org.apache.solr.response.SolrQueryResponse;
import org.apache.solr.schema.IndexSchema;
import org.apache.solr.schema.SchemaField;
import org.apache.solr.update.AddUpdateCommand;
import org.apache.solr.update.processor.UpdateRequestProcessor;
import org.apache.solr.update.processor.UpdateRequestProcessorFactory;

/**
 * Packs every {@link ImageVectorField} value of an added document into one validated {@code byte[]}
 * (little-endian float32).
 *
 * <p>A JSON array or a repeated XML field arrives as a multi-valued field, which Solr's document
 * builder rejects for a single-valued field before the field type sees it (it only makes an
 * exception for its own DenseVectorField). Packing here also validates the vector once, on the node
 * that received it, with the document id in the message, and makes SolrCloud forward compact bytes
 * instead of a list of boxed numbers. Atomic updates keep their structure: in {@code {"set":
 * [...]}} only the inner value is packed.
 *
 * <p>Must come before {@code DistributedUpdateProcessorFactory} in the chain.
 */
public class ImageVectorUpdateProcessorFactory extends UpdateRequestProcessorFactory {

  @Override
  public UpdateRequestProcessor getInstance(
      SolrQueryRequest req, SolrQueryResponse rsp, UpdateRequestProcessor next) {
    return new UpdateRequestProcessor(next) {
      @Override
      public void processAdd(AddUpdateCommand cmd) throws IOException {
        pack(cmd.getSolrInputDocument(), req.getSchema(), cmd.getPrintableId());
        super.processAdd(cmd);
      }
    };
  }

  private static void pack(SolrInputDocument doc, IndexSchema schema, String id) {
    for (SolrInputField field : doc) {
      SchemaField schemaField = schema.getFieldOrNull(field.getName());
      if (schemaField == null || schemaField.getType() instanceof ImageVectorField == false) {
        continue;
      }
      int dimension = ((ImageVectorField) schemaField.getType()).getDimension();
      try {
        field.setValue(pack(field.getValue(), field.getName(), dimension));
      } catch (SolrException e) {
        throw BadRequest.inDocument(id, e);
      }
    }
  }

  private static Object pack(Object value, String name, int dimension) {
    if (value instanceof Map) {
      Map<String, Object> operations = new LinkedHashMap<>();
      for (Map.Entry<?, ?> operation : ((Map<?, ?>) value).entrySet()) {
        Object operand = operation.getValue();
        operations.put(
            operation.getKey().toString(), operand == null ? null : pack(operand, name, dimension));
      }
      return operations;
    }
    return VectorFormat.toBytes(VectorFormat.parse(value, name, dimension));
  }
}
