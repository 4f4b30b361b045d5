package example;

import java.io.File;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.ObjectInputStream;
import java.net.URL;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.Random;
import javax.crypto.Cipher;
import javax.servlet.http.Cookie;
import javax.servlet.http.HttpServlet;
import javax.servlet.http.HttpServletRequest;
import javax.servlet.http.HttpServletResponse;
import javax.xml.parsers.DocumentBuilderFactory;

public class AccountServlet extends HttpServlet {
    private Connection connection;

    @Override
    protected void doGet(HttpServletRequest request, HttpServletResponse response) throws IOException {
        String id = request.getParameter("id");
        try {
            Statement statement = connection.createStatement();
            // ruleid: sql-injection
            ResultSet rows = statement.executeQuery("SELECT name FROM accounts WHERE id = '" + id + "'");
            // ok: sql-injection
            PreparedStatement prepared = connection.prepareStatement("SELECT name FROM accounts WHERE id = ?");
            prepared.setString(1, id);
            rows = prepared.executeQuery();
        } catch (Exception e) {
            response.sendError(500);
        }
    }

    void search(String term) throws Exception {
        String sql = "SELECT name FROM accounts WHERE name LIKE '%" + term + "%'";
        Statement statement = connection.createStatement();
        // ruleid: sql-injection
        statement.executeQuery(sql);
    }

    void ping(HttpServletRequest request) throws IOException {
        String host = request.getParameter("host");
        // ruleid: command-injection
        Runtime.getRuntime().exec("ping -c 1 " + host);
        // ok: command-injection
        Runtime.getRuntime().exec(new String[] { "ping", "-c", "1", "localhost" });
    }

    void download(HttpServletRequest request, HttpServletResponse response) throws IOException {
        String name = request.getParameter("file");
        // ruleid: path-traversal
        InputStream in = new FileInputStream(new File("/srv/files", name));
        // ok: path-traversal
        InputStream index = new FileInputStream(new File("/srv/files", "index.html"));
        in.transferTo(response.getOutputStream());
        index.close();
    }

    void hello(HttpServletRequest request, HttpServletResponse response) throws IOException {
        String name = request.getParameter("name");
        // ruleid: reflected-xss
        response.getWriter().println("<h1>Hello " + name + "</h1>");
        // ok: reflected-xss
        response.getWriter().println("<h1>Hello</h1>");
    }

    void proxy(HttpServletRequest request) throws IOException {
        // ruleid: ssrf
        URL url = new URL(request.getParameter("url"));
        url.openStream().close();
    }

    void next(HttpServletRequest request, HttpServletResponse response) throws IOException {
        // ruleid: open-redirect
        response.sendRedirect(request.getParameter("next"));
        // ok: open-redirect
        response.sendRedirect("/dashboard");
    }

    Object restore(InputStream in) throws Exception {
        ObjectInputStream objects = new ObjectInputStream(in);
        // ruleid: insecure-deserialization
        return objects.readObject();
    }

    byte[] fingerprint(byte[] data) throws Exception {
        // ruleid: weak-hash
        MessageDigest md = MessageDigest.getInstance("MD5");
        // ok: weak-hash
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        return sha.digest(md.digest(data));
    }

    byte[] encrypt(byte[] key, byte[] data) throws Exception {
        // ruleid: weak-cipher
        Cipher des = Cipher.getInstance("DES/ECB/PKCS5Padding");
        // ok: weak-cipher
        Cipher gcm = Cipher.getInstance("AES/GCM/NoPadding");
        return gcm.doFinal(des.doFinal(data));
    }

    int token() {
        // ruleid: insecure-random
        int weak = new Random().nextInt();
        // ok: insecure-random
        int strong = new SecureRandom().nextInt();
        return weak ^ strong;
    }

    void parse(InputStream in) throws Exception {
        // ruleid: xxe
        DocumentBuilderFactory factory = DocumentBuilderFactory.newInstance();
        factory.newDocumentBuilder().parse(in);
    }

    void remember(HttpServletResponse response, String session) {
        Cookie cookie = new Cookie("session", session);
        // ruleid: cookie-insecure
        cookie.setSecure(false);
        // ok: cookie-insecure
        cookie.setHttpOnly(true);
        response.addCookie(cookie);
    }
}
