/*
 * anon_parent.c - a parent that runs a child with its standard input and
 * output redirected to anonymous pipes, the way Windows pipe tutorials do
 * it: CreatePipe with inheritable handles, SetHandleInformation to keep
 * the parent's ends out of the child, CreateProcess with
 * STARTF_USESTDHANDLES, then write a file to the child's input and copy
 * the child's output to our own.
 *
 *   anon_parent FILE [CHILD]      (CHILD defaults to "anon_child")
 *
 * Written as a Windows program: it builds unchanged with mingw-w64 against
 * the real <windows.h>, and against npipe's with
 * `pkg-config --cflags --libs npipe-windows`.
 */
#include <windows.h>
#include <tchar.h>
#include <stdio.h>
#include <strsafe.h>

#define BUFSIZE 4096

static HANDLE g_hChildStd_IN_Rd = NULL;
static HANDLE g_hChildStd_IN_Wr = NULL;
static HANDLE g_hChildStd_OUT_Rd = NULL;
static HANDLE g_hChildStd_OUT_Wr = NULL;
static HANDLE g_hInputFile = NULL;

/* Report the last error with its system message, then leave. */
static void ErrorExit(PCTSTR lpszFunction)
{
        LPVOID lpMsgBuf;
        LPVOID lpDisplayBuf;
        DWORD dw = GetLastError();

        FormatMessage(FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM |
                          FORMAT_MESSAGE_IGNORE_INSERTS,
                      NULL, dw, MAKELANGID(LANG_NEUTRAL, SUBLANG_DEFAULT), (LPTSTR)&lpMsgBuf, 0,
                      NULL);
        lpDisplayBuf = (LPVOID)LocalAlloc(
            LMEM_ZEROINIT, (lstrlen((LPCTSTR)lpMsgBuf) + lstrlen(lpszFunction) + 40) * sizeof(TCHAR));
        StringCchPrintf((LPTSTR)lpDisplayBuf, LocalSize(lpDisplayBuf) / sizeof(TCHAR),
                        TEXT("%s failed with error %d: %s"), lpszFunction, (int)dw,
                        (LPTSTR)lpMsgBuf);
        MessageBox(NULL, (LPCTSTR)lpDisplayBuf, TEXT("Error"), MB_OK);
        LocalFree(lpMsgBuf);
        LocalFree(lpDisplayBuf);
        ExitProcess(1);
}

static HANDLE CreateChildProcess(LPTSTR szCmdline)
{
        PROCESS_INFORMATION piProcInfo;
        STARTUPINFO siStartInfo;
        BOOL bSuccess;

        ZeroMemory(&piProcInfo, sizeof(PROCESS_INFORMATION));
        ZeroMemory(&siStartInfo, sizeof(STARTUPINFO));
        siStartInfo.cb = sizeof(STARTUPINFO);
        siStartInfo.hStdError = g_hChildStd_OUT_Wr;
        siStartInfo.hStdOutput = g_hChildStd_OUT_Wr;
        siStartInfo.hStdInput = g_hChildStd_IN_Rd;
        siStartInfo.dwFlags |= STARTF_USESTDHANDLES;

        bSuccess = CreateProcess(NULL, szCmdline, NULL, NULL, TRUE, 0, NULL, NULL, &siStartInfo,
                                 &piProcInfo);
        if (!bSuccess)
                ErrorExit(TEXT("CreateProcess"));

        /* the child has its ends now: close ours, or we would never see
         * the end of its output, nor it the end of its input */
        CloseHandle(piProcInfo.hThread);
        CloseHandle(g_hChildStd_OUT_Wr);
        CloseHandle(g_hChildStd_IN_Rd);
        return piProcInfo.hProcess;
}

static void WriteToPipe(void)
{
        DWORD dwRead, dwWritten;
        CHAR chBuf[BUFSIZE];
        BOOL bSuccess;

        for (;;) {
                bSuccess = ReadFile(g_hInputFile, chBuf, BUFSIZE, &dwRead, NULL);
                if (!bSuccess || dwRead == 0)
                        break;
                bSuccess = WriteFile(g_hChildStd_IN_Wr, chBuf, dwRead, &dwWritten, NULL);
                if (!bSuccess)
                        break;
        }
        /* the child's end of input */
        if (!CloseHandle(g_hChildStd_IN_Wr))
                ErrorExit(TEXT("StdInWr CloseHandle"));
}

static void ReadFromPipe(void)
{
        DWORD dwRead, dwWritten;
        CHAR chBuf[BUFSIZE];
        BOOL bSuccess;
        HANDLE hParentStdOut = GetStdHandle(STD_OUTPUT_HANDLE);

        for (;;) {
                bSuccess = ReadFile(g_hChildStd_OUT_Rd, chBuf, BUFSIZE, &dwRead, NULL);
                if (!bSuccess || dwRead == 0)
                        break; /* ERROR_BROKEN_PIPE: the child is done */
                bSuccess = WriteFile(hParentStdOut, chBuf, dwRead, &dwWritten, NULL);
                if (!bSuccess)
                        break;
        }
}

int _tmain(int argc, TCHAR *argv[])
{
        SECURITY_ATTRIBUTES saAttr;
        TCHAR szCmdline[MAX_PATH];
        HANDLE hProcess;
        DWORD dwExit = 0;

        if (argc < 2) {
                _tprintf(TEXT("usage: %s FILE [CHILD]\n"), argv[0]);
                return 2;
        }
        StringCchCopy(szCmdline, MAX_PATH, argc > 2 ? argv[2] : TEXT("anon_child"));

        saAttr.nLength = sizeof(SECURITY_ATTRIBUTES);
        saAttr.bInheritHandle = TRUE;
        saAttr.lpSecurityDescriptor = NULL;

        if (!CreatePipe(&g_hChildStd_OUT_Rd, &g_hChildStd_OUT_Wr, &saAttr, 0))
                ErrorExit(TEXT("StdoutRd CreatePipe"));
        if (!SetHandleInformation(g_hChildStd_OUT_Rd, HANDLE_FLAG_INHERIT, 0))
                ErrorExit(TEXT("Stdout SetHandleInformation"));
        if (!CreatePipe(&g_hChildStd_IN_Rd, &g_hChildStd_IN_Wr, &saAttr, 0))
                ErrorExit(TEXT("Stdin CreatePipe"));
        if (!SetHandleInformation(g_hChildStd_IN_Wr, HANDLE_FLAG_INHERIT, 0))
                ErrorExit(TEXT("Stdin SetHandleInformation"));

        hProcess = CreateChildProcess(szCmdline);

        g_hInputFile = CreateFile(argv[1], GENERIC_READ, 0, NULL, OPEN_EXISTING,
                                  FILE_ATTRIBUTE_READONLY, NULL);
        if (g_hInputFile == INVALID_HANDLE_VALUE)
                ErrorExit(TEXT("CreateFile"));

        WriteToPipe();
        ReadFromPipe();

        WaitForSingleObject(hProcess, INFINITE);
        GetExitCodeProcess(hProcess, &dwExit);
        CloseHandle(hProcess);
        CloseHandle(g_hInputFile);
        fflush(stdout);
        return (int)dwExit;
}
