package io.lookalike.solr;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Comparator;
import java.util.stream.IntStream;
import org.apache.lucene.util.BytesRef;

/**
 * Coarse cells for the opt-in approximate search ({@code {!visual probe=N}}): centroids (k-means
 * over a sample of the catalog, trained outside Solr) of the first {@code dims} components. Each
 * document is indexed with the term of its nearest centroid; an approximate query only looks at the
 * documents of the {@code N} cells nearest to the query vector, an inverted file (IVF) in Lucene
 * terms.
 *
 * <p>The file is little-endian: an int32 cell count, an int32 component count, then the centroids'
 * float32 components, one centroid after another.
 */
final class CoarseCells {

  private final byte[][] centroids; // little-endian float32: the distance kernel's stored form
  private final int dims;

  private CoarseCells(byte[][] centroids, int dims) {
    this.centroids = centroids;
    this.dims = dims;
  }

  /**
   * Reads a cells file.
   *
   * @param dimension the vectors' dimension: the centroids may have at most that many components
   * @throws IOException if the file is truncated or its header is impossible
   */
  static CoarseCells read(InputStream in, String name, int dimension) throws IOException {
    DataInputStream data = new DataInputStream(in);
    byte[] header = data.readNBytes(2 * Integer.BYTES);
    if (header.length < 2 * Integer.BYTES) {
      throw new IOException(name + ": truncated header");
    }
    ByteBuffer head = ByteBuffer.wrap(header).order(ByteOrder.LITTLE_ENDIAN);
    int count = head.getInt();
    int dims = head.getInt();
    if (count < 1 || dims < 1 || dims > dimension) {
      throw new IOException(
          name
              + ": "
              + count
              + " cells of "
              + dims
              + " components; expected >= 1 cells of 1.."
              + dimension
              + " components");
    }
    byte[] body = data.readNBytes(count * dims * Float.BYTES);
    if (body.length != count * dims * Float.BYTES) {
      throw new IOException(name + ": truncated, " + count + " centroids announced");
    }
    byte[][] centroids = new byte[count][];
    for (int i = 0; i < count; i++) {
      ByteBuffer centroid = ByteBuffer.wrap(body, i * dims * Float.BYTES, dims * Float.BYTES);
      centroids[i] = VectorFormat.toBytes(VectorFormat.parse(centroid.slice(), name, dims));
    }
    return new CoarseCells(centroids, dims);
  }

  int size() {
    return centroids.length;
  }

  /** The term of the cell nearest to {@code vector}, what a document is indexed with. */
  BytesRef nearestTerm(float[] vector) {
    return term(nearest(vector));
  }

  /**
   * The nearest cell (the first on ties): every document being indexed pays for this, so each
   * distance is abandoned as soon as it exceeds the best so far.
   */
  private int nearest(float[] vector) {
    int best = 0;
    float bestDistance = Float.POSITIVE_INFINITY;
    for (int c = 0; c < centroids.length; c++) {
      float distance =
          SquaredDistance.squaredDistanceBounded(vector, dims, centroids[c], 0, bestDistance);
      if (distance < bestDistance) {
        best = c;
        bestDistance = distance;
      }
    }
    return best;
  }

  /** The probe of {@code count} cells for a query at {@code vector}. */
  CellProbe probe(float[] vector, int count) {
    return new CellProbe(order(vector), count);
  }

  /** Every cell, nearest to {@code vector} first (the first on ties). */
  private int[] order(float[] vector) {
    float[] distances = new float[centroids.length];
    for (int c = 0; c < centroids.length; c++) {
      distances[c] =
          SquaredDistance.squaredDistanceBounded(
              vector, dims, centroids[c], 0, Float.POSITIVE_INFINITY);
    }
    return IntStream.range(0, centroids.length)
        .boxed()
        .sorted(Comparator.comparingDouble((Integer c) -> distances[c]).thenComparingInt(c -> c))
        .mapToInt(Integer::intValue)
        .toArray();
  }

  /** The term a document of cell {@code cell} is indexed with. */
  static BytesRef term(int cell) {
    return new BytesRef(Integer.toString(cell));
  }
}
