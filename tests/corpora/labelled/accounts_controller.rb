require "digest"
require "open3"
require "net/http"

class AccountsController < ApplicationController
  def show
    # ruleid: sql-injection
    @account = Account.where("id = '#{params[:id]}'").first
    # ok: sql-injection
    @account = Account.where(id: params[:id]).first
  end

  def search
    term = params[:q]
    sql = "SELECT * FROM accounts WHERE name LIKE '%#{term}%'"
    # ruleid: sql-injection
    @accounts = Account.find_by_sql(sql)
  end

  def ping
    # ruleid: command-injection
    output = `ping -c 1 #{params[:host]}`
    # ok: command-injection
    output, _status = Open3.capture2("ping", "-c", "1", "localhost")
    render plain: output
  end

  def archive
    # ruleid: command-injection
    system("tar czf /tmp/export.tgz #{params[:dir]}")
    head :ok
  end

  def download
    name = params[:file]
    # ruleid: path-traversal
    send_file File.join("/srv/files", name)
  end

  def index_file
    # ok: path-traversal
    send_file Rails.root.join("public", "index.html")
  end

  def greeting
    # ruleid: reflected-xss
    render inline: "<h1>Hello #{params[:name]}</h1>"
  end

  def greeting_safely
    # ok: reflected-xss
    render plain: "Hello #{params[:name]}"
  end

  def proxy
    # ruleid: ssrf
    body = Net::HTTP.get(URI(params[:url]))
    render plain: body
  end

  def back
    # ruleid: open-redirect
    redirect_to params[:return_to]
  end

  def home
    # ok: open-redirect
    redirect_to root_path
  end

  def restore
    # ruleid: insecure-deserialization
    data = Marshal.load(Base64.decode64(params[:state]))
    # ok: insecure-deserialization
    parsed = JSON.parse(params[:state])
    render json: [data, parsed]
  end

  def dispatch_action
    # ruleid: unsafe-reflection
    @account.send(params[:method])
    # ok: unsafe-reflection
    @account.send(:touch)
  end

  def update
    # ruleid: mass-assignment
    @account.update(params[:account])
    # ok: mass-assignment
    @account.update(account_params)
  end

  def fingerprint(value)
    # ruleid: weak-hash
    Digest::MD5.hexdigest(value)
  end

  def checksum(value)
    # ok: weak-hash
    Digest::SHA256.hexdigest(value)
  end

  def evaluate
    # ruleid: code-injection
    eval(params[:expression])
  end

  def client
    http = Net::HTTP.new("partner.example.com", 443)
    http.use_ssl = true
    # ruleid: tls-verify-disabled
    http.verify_mode = OpenSSL::SSL::VERIFY_NONE
    # ok: tls-verify-disabled
    http.verify_mode = OpenSSL::SSL::VERIFY_PEER
    http
  end

  private

  def account_params
    params.require(:account).permit(:name, :email)
  end
end
