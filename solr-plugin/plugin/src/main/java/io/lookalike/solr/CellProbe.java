package io.lookalike.solr;

import java.io.IOException;
import java.util.Arrays;
import org.apache.lucene.index.LeafReader;
import org.apache.lucene.index.PostingsEnum;
import org.apache.lucene.index.Terms;
import org.apache.lucene.index.TermsEnum;
import org.apache.lucene.search.DocIdSetIterator;
import org.apache.lucene.util.BytesRef;
import org.apache.lucene.util.DocIdSetBuilder;

/**
 * The probe of an approximate query ({@code {!visual probe=N}}): every coarse cell, nearest
 * centroid first (see {@link CoarseCells}), and N, how many of the nearest to rank the documents
 * of.
 *
 * <p>A filter, or another required clause, that keeps a share {@code s} of a segment's documents
 * keeps about {@code s} of each cell too: N cells would then hold {@code s} times fewer candidates
 * than they do for the unfiltered search, and recall would fall with the filter (measured in
 * bench/ before this rule: at 10 of 1000 cells, recall@10 0.996 unfiltered, 0.950 under a 1%
 * filter). So a segment whose conjunction Lucene leads with {@code leadCost}
 * documents probes {@code ceil(N * withVector / leadCost)} cells: about as many candidates as the
 * unfiltered search ranks, at about its cost. Once that is more than half of the cells, the
 * segment ranks the filtered documents exactly, as Lucene's HNSW search does when a filter is
 * selective: gathering the documents of most cells costs more than ranking the filtered ones (at
 * 1,000,000 documents and a 1% filter, 29.4 ms with 5 cells widened to about 500 of 1000, 9.2 ms
 * with 20 widened to all of them, the exact search 10.0 ms).
 */
final class CellProbe {

  private final int[] order; // every cell, nearest centroid first
  private final int probe;

  /**
   * @param order every cell, nearest centroid first
   * @param probe how many cells to probe where nothing narrows the search, {@code >= 1}
   */
  CellProbe(int[] order, int probe) {
    if (probe < 1) {
      throw new IllegalArgumentException("probe must be >= 1, got " + probe);
    }
    this.order = order.clone();
    this.probe = Math.min(probe, order.length);
  }

  /** How many cells are probed where nothing narrows the search. */
  int probe() {
    return probe;
  }

  /** Whether {@code count} cells are every cell: the search is then exact. */
  boolean isEveryCell(int count) {
    return count >= order.length;
  }

  /**
   * How many cells a segment with {@code withVector} documents with a vector probes when its
   * conjunction leads with {@code leadCost} documents (Lucene's estimate of the cheapest required
   * clause): {@link #probe()} when nothing is narrower than the vectors themselves, more as the
   * lead narrows, every cell once that is more than half of them or the lead holds no document.
   */
  int widened(long withVector, long leadCost) {
    if (leadCost >= withVector) {
      return probe;
    }
    if (leadCost <= 0) {
      return order.length;
    }
    // probe <= cells and withVector < 2^31: the product fits in a long
    long cells = (probe * withVector + leadCost - 1) / leadCost;
    return 2 * cells > order.length ? order.length : (int) cells;
  }

  /** The terms of the {@code count} nearest cells. */
  BytesRef[] terms(int count) {
    return Arrays.stream(order, 0, count).mapToObj(CoarseCells::term).toArray(BytesRef[]::new);
  }

  /**
   * The documents of {@code reader} indexed in the {@code count} nearest cells ({@code field}
   * holds the cell terms), or null when none is.
   */
  DocIdSetIterator documents(LeafReader reader, String field, int count) throws IOException {
    Terms terms = reader.terms(field);
    if (terms == null) {
      return null;
    }
    TermsEnum cells = terms.iterator();
    DocIdSetBuilder documents = new DocIdSetBuilder(reader.maxDoc(), terms);
    PostingsEnum postings = null;
    boolean found = false;
    for (BytesRef cell : terms(count)) {
      if (cells.seekExact(cell)) {
        postings = cells.postings(postings, PostingsEnum.NONE);
        documents.add(postings);
        found = true;
      }
    }
    return found ? documents.build().iterator() : null;
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof CellProbe
        && probe == ((CellProbe) other).probe
        && Arrays.equals(order, ((CellProbe) other).order);
  }

  @Override
  public int hashCode() {
    return 31 * Arrays.hashCode(order) + probe;
  }

  @Override
  public String toString() {
    return "cells=" + probe + "/" + order.length;
  }
}
