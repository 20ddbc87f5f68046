// pgJDBC (Debian's libpostgresql-jdbc-java) with default settings against `agora serve`:
// PreparedStatement, which pgJDBC turns into a named server-side statement from its fifth use.
import java.sql.*;
import java.util.*;

public class JdbcClient {
    public static void main(String[] args) throws Exception {
        String url = "jdbc:postgresql://127.0.0.1:" + args[0] + "/agora";
        StringBuilder out = new StringBuilder("{");
        try (Connection conn = DriverManager.getConnection(url, args[1], args[2])) {
            out.append("\"version\": \"").append(conn.getMetaData().getDatabaseProductVersion()).append("\", ");
            try (PreparedStatement st = conn.prepareStatement("select id, region from crm.customers where id = ?")) {
                st.setLong(1, 2);
                try (ResultSet rs = st.executeQuery()) {
                    rs.next();
                    out.append("\"parameterised\": [[").append(rs.getLong(1)).append(", \"").append(rs.getString(2)).append("\"]], ");
                }
            }
            List<Long> prepared = new ArrayList<>();
            try (PreparedStatement st = conn.prepareStatement("select id from crm.customers where id = ?")) {
                for (long i : new long[] {1, 4, 3, 1, 4, 3}) {
                    st.setLong(1, i);
                    try (ResultSet rs = st.executeQuery()) {
                        rs.next();
                        prepared.add(rs.getLong(1));
                    }
                }
            }
            out.append("\"prepared\": ").append(prepared).append(", ");
            try (PreparedStatement st = conn.prepareStatement("select email from crm.customers where id = ?")) {
                st.setInt(1, 1);
                try (ResultSet rs = st.executeQuery()) {
                    rs.next();
                    out.append("\"masked\": \"").append(rs.getString(1)).append("\", ");
                }
            }
            try (PreparedStatement st = conn.prepareStatement("select count(*) from crm.customers where region = ? and id > ?")) {
                st.setString(1, "EU");
                st.setInt(2, 1);
                try (ResultSet rs = st.executeQuery()) {
                    rs.next();
                    out.append("\"typed\": ").append(rs.getLong(1)).append(", ");
                }
            }
        }
        try (Connection conn = DriverManager.getConnection(url, args[3], args[4]);
             PreparedStatement st = conn.prepareStatement("select email from crm.customers where id = ?")) {
            st.setInt(1, 1);
            st.executeQuery();
            out.append("\"refused\": null}");
        } catch (SQLException e) {
            out.append("\"refused\": \"").append(e.getMessage().replace("\"", "'").replace("\n", " ")).append("\"}");
        }
        System.out.println(out);
    }
}
